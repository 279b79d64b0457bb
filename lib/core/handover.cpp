#include "handover.hpp"

#include <array>
#include <cerrno>
#include <concepts>
#include <tuple>
#include <utility>
#include <fmt/format.h>

#include "aggregate_fields.hpp"
#include "handover_text.hpp"
#include "text.hpp"

namespace reuserun {

// Every field of what the handover carries beside the supervisor's snapshot (whose fields are
// described once, SupervisorSnapshot::describe) is written by encode_handover and read by
// decode_line by hand. A field added to one of these structs must be added to both, and it
// changes the format (kHandoverVersion): these counts make that a decision.
static_assert(kFieldCount<Handover> == 14, "encode_handover and decode_line carry Handover");
static_assert(kFieldCount<HandedListener> == 3, "the listener lines carry HandedListener");
static_assert(kFieldCount<HandedWorker> == 5, "the worker and takeover lines carry HandedWorker");
static_assert(kFieldCount<HandedWaiter> == 2, "the waiter lines carry HandedWaiter");
static_assert(kFieldCount<RestartResult> == 8, "the last-restart line carries RestartResult");
// A worker's line carries its generation, slot, pid and phase; spawned_at_ns travels in its
// HandedWorker, ready_by is not carried.
static_assert(kFieldCount<ChildState> == 6, "the worker lines carry ChildState");
static_assert(kFieldCount<TimerId> == 3, "the timer lines carry TimerId");

namespace {

using namespace handover_text;  // NOLINT(google-build-using-namespace): its own text

constexpr std::string_view kMagic = "reuserun-handover";

constexpr std::array<std::pair<TimerKind, std::string_view>, 8> kTimerNames = {{
    {TimerKind::ready_deadline, "ready"},
    {TimerKind::drain_deadline, "drain"},
    {TimerKind::kill_deadline, "kill"},
    {TimerKind::stop_deadline, "stop"},
    {TimerKind::backoff, "backoff"},
    {TimerKind::stable, "stable"},
    {TimerKind::repair, "repair"},
    {TimerKind::watchdog, "watchdog"},
}};

constexpr std::array<RestartOutcome, 6> kOutcomes = {
    RestartOutcome::succeeded, RestartOutcome::exited,       RestartOutcome::gate_failed,
    RestartOutcome::timed_out, RestartOutcome::spawn_failed, RestartOutcome::stopped};

std::optional<Phase> phase_from(std::string_view name) {
  for (Phase phase :
       {Phase::starting, Phase::serving, Phase::draining, Phase::failed, Phase::stopping})
    if (phase_name(phase) == name) return phase;
  return std::nullopt;
}

std::optional<TimerKind> timer_from(std::string_view name) {
  for (const auto& [kind, text] : kTimerNames)
    if (text == name) return kind;
  return std::nullopt;
}

std::string_view timer_name(TimerKind kind) {
  for (const auto& [known, text] : kTimerNames)
    if (known == kind) return text;
  return "unknown";
}

std::optional<RestartOutcome> outcome_from(std::string_view name) {
  for (RestartOutcome outcome : kOutcomes)
    if (outcome_name(outcome) == name) return outcome;
  return std::nullopt;
}

std::optional<std::vector<pid_t>> pids_from(std::string_view text) {
  std::vector<pid_t> pids;
  if (text == "-") return pids;
  for (std::string_view part : split(text, ',')) {
    pid_t pid = 0;
    if (!parse_number(part, pid) || pid <= 0) return std::nullopt;
    pids.push_back(pid);
  }
  return pids;
}

// ---- the supervisor's snapshot, along its description (SupervisorSnapshot::describe) ----
// Its numbers make one `supervisor` line, in the description's order; each entry of one of its
// collections is a line of its own, named after the field. A field of a type with no encoding
// here does not compile; a new field changes the text, and so kHandoverVersion.

template <class T>
struct IsNumber : std::bool_constant<std::integral<T>> {};
template <class T>
struct IsNumber<std::optional<T>> : std::bool_constant<std::integral<T>> {};
template <class T>
concept OneNumber = IsNumber<std::remove_const_t<T>>::value;


std::string encode_entry(std::string_view name, const std::pair<const Slot, int>& repairs,
                         const Handover& /*handover*/) {
  return fmt::format("{} {} {}\n", name, repairs.first, repairs.second);
}

std::string encode_entry(std::string_view name, const ChildState& child, const Handover& handover) {
  const auto found = handover.workers.find(WorkerKey{child.generation, child.slot});
  const HandedWorker worker = found != handover.workers.end() ? found->second : HandedWorker{};
  std::string out = fmt::format("{} {} {} {} {} {} {} {}\n", name, child.generation, child.slot,
                                child.pid, phase_name(child.phase), worker.spawned_at_ns,
                                worker.notify_fd, quote(worker.notify_address));
  if (worker.takeover_fd >= 0)
    out += fmt::format("takeover {} {} {} {}\n", child.generation, child.slot, worker.takeover_fd,
                       quote(worker.bound_itself));
  return out;
}

std::string encode_entry(std::string_view name, const TimerId& id, const Handover& handover) {
  const auto expiry = handover.timer_expiries_ns.find(id);
  return fmt::format("{} {} {} {} {}\n", name, timer_name(id.kind), id.generation, id.slot,
                     expiry != handover.timer_expiries_ns.end() ? expiry->second : 0);
}

std::string encode_supervisor(const Handover& handover) {
  std::string numbers;
  std::string entries;
  const auto encode = [&]<class T>(const Field<T>& field) {
    if constexpr (OneNumber<T>) {
      numbers += ' ' + token(field.value);
    } else {
      for (const auto& entry : field.value) entries += encode_entry(field.name, entry, handover);
    }
  };
  std::apply([&](const auto&... field) { (encode(field), ...); }, handover.supervisor.fields());
  return "supervisor" + numbers + "\n" + entries;
}

bool decode_entry(Fields& fields, std::map<Slot, int>& repairs, Handover& /*out*/) {
  const auto slot = fields.number<Slot>();
  repairs[slot] = fields.number<int>();
  return true;
}

bool decode_entry(Fields& fields, std::vector<ChildState>& children, Handover& out) {
  ChildState child{};
  child.generation = fields.number<Generation>();
  child.slot = fields.number<Slot>();
  child.pid = fields.number<pid_t>();
  const auto phase = phase_from(fields.word());
  HandedWorker worker;
  worker.spawned_at_ns = fields.number<std::int64_t>();
  worker.notify_fd = fields.number<int>();
  worker.notify_address = fields.text();
  // A settled supervisor has nothing starting: a starting worker would need its gate.
  if (!phase || *phase == Phase::starting || child.pid <= 0) return false;
  child.phase = *phase;
  children.push_back(child);
  out.workers[WorkerKey{child.generation, child.slot}] = std::move(worker);
  return true;
}

bool decode_entry(Fields& fields, std::vector<TimerId>& armed, Handover& out) {
  const auto kind = timer_from(fields.word());
  const auto generation = fields.number<Generation>();
  const auto slot = fields.number<Slot>();
  const auto expires_at_ns = fields.number<std::int64_t>();
  if (!kind) return false;
  const TimerId id{*kind, generation, slot};
  armed.push_back(id);
  out.timer_expiries_ns[id] = expires_at_ns;
  return true;
}

// A line of the supervisor's snapshot into `out`; false when it is none, or malformed.
bool decode_supervisor(std::string_view keyword, Fields& fields, Handover& out) {
  bool decoded = false;
  const auto decode = [&]<class T>(const Field<T>& field) {
    if constexpr (OneNumber<T>) {
      if (keyword != "supervisor") return;
      fields.read(field.value);
      decoded = true;
    } else if (keyword == field.name) {
      decoded = decode_entry(fields, field.value, out);
    }
  };
  std::apply([&](const auto&... field) { (decode(field), ...); }, out.supervisor.fields());
  return decoded;
}

Error malformed(std::size_t line_number, std::string_view line) {
  return Error{fmt::format("malformed handover line {}: '{}'", line_number, line), EINVAL};
}

// One line after the version line into `out`; false when it is malformed.
bool decode_line(std::string_view keyword, Fields& fields, Handover& out) {
  if (keyword == "started") {
    out.started_at_ns = fields.number<std::int64_t>();
  } else if (keyword == "upgrade") {
    out.upgrade_began_ns = fields.number<std::int64_t>();
    out.upgrades = fields.number<unsigned long>();
    out.previous_executable = fields.text();
  } else if (keyword == "listener") {
    HandedListener& listener = out.listeners.emplace_back();
    listener.fd = fields.number<int>();
    listener.owns_path = fields.flag();
    listener.name = fields.text();
    if (listener.fd < 0) return false;
  } else if (keyword == "control") {
    out.control_fd = fields.number<int>();
    out.control_path = fields.text();
    if (out.control_fd < 0) return false;
  } else if (keyword == "takeover") {  // after its worker's line
    const auto generation = fields.number<Generation>();
    const auto slot = fields.number<Slot>();
    const auto found = out.workers.find(WorkerKey{generation, slot});
    if (found == out.workers.end()) return false;
    found->second.takeover_fd = fields.number<int>();
    found->second.bound_itself = fields.text();
    if (found->second.takeover_fd < 0) return false;
  } else if (keyword == "restarts") {
    out.restarts = fields.number<unsigned long>();
  } else if (keyword == "last-restart") {
    RestartResult& result = out.last_restart.emplace();
    result.generation = fields.number<Generation>();
    const auto outcome = outcome_from(fields.word());
    result.duration = std::chrono::microseconds(fields.number<std::int64_t>());
    out.last_restart_at_ns = fields.number<std::int64_t>();
    result.serving = fields.optional_number<Generation>();
    result.serving_pid = fields.optional_number<pid_t>();
    const auto pids = pids_from(fields.word());
    result.reason = fields.text();
    if (!outcome || !pids) return false;
    result.outcome = *outcome;
    result.pids = *pids;
    if (!result.pids.empty()) result.pid = result.pids.front();
  } else if (keyword == "waiter") {
    HandedWaiter& waiter = out.waiters.emplace_back();
    waiter.fd = fields.number<int>();
    waiter.json = fields.flag();
    if (waiter.fd < 0) return false;
  } else if (!decode_supervisor(keyword, fields, out)) {
    return false;
  }
  return fields.done();
}

}  // namespace

std::string encode_handover(const Handover& handover) {
  std::string out = fmt::format("{} {}\n", kMagic, kHandoverVersion);
  out += fmt::format("started {}\n", handover.started_at_ns);
  out += fmt::format("upgrade {} {} {}\n", handover.upgrade_began_ns, handover.upgrades,
                     quote(handover.previous_executable));
  for (const HandedListener& listener : handover.listeners)
    out +=
        fmt::format("listener {} {:d} {}\n", listener.fd, listener.owns_path, quote(listener.name));
  if (handover.control_fd >= 0)
    out += fmt::format("control {} {}\n", handover.control_fd, quote(handover.control_path));
  out += encode_supervisor(handover);
  out += fmt::format("restarts {}\n", handover.restarts);
  if (const auto& last = handover.last_restart)
    out += fmt::format(
        "last-restart {} {} {} {} {} {} {} {}\n", last->generation, outcome_name(last->outcome),
        last->duration.count(), handover.last_restart_at_ns,
        optional_number(last->serving), optional_number(last->serving_pid), join_pids(last->pids),
        quote(last->reason));
  for (const HandedWaiter& waiter : handover.waiters)
    out += fmt::format("waiter {} {:d}\n", waiter.fd, waiter.json);
  out += "end\n";
  return out;
}

Result<Handover> decode_handover(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);  // the last line's
  const std::vector<std::string_view> lines = split(text, '\n');
  const std::vector<std::string_view> first = split(lines.front(), ' ');
  int version = 0;
  if (first.size() != 2 || first[0] != kMagic || !parse_number(first[1], version))
    return Error{"not a reuserun handover (its first line should be '" + std::string(kMagic) +
                     " <version>')",
                 EINVAL};
  if (version != kHandoverVersion)
    return Error{fmt::format("handover format version {} is not supported: this reuserun reads "
                             "version {} only",
                             version, kHandoverVersion),
                 EPROTO};
  Handover out;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line == "end") {
      if (i + 1 < lines.size()) return malformed(i + 2, lines[i + 1]);
      if (out.listeners.empty()) return Error{"the handover names no listening socket", EINVAL};
      return out;
    }
    std::vector<std::string_view> tokens = split(line, ' ');
    const std::string_view keyword = tokens.front();
    tokens.erase(tokens.begin());
    Fields fields(std::move(tokens));
    if (!decode_line(keyword, fields, out)) return malformed(i + 1, line);
  }
  return Error{"the handover is truncated (no 'end' line)", EINVAL};
}

}  // namespace reuserun
