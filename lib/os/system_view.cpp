#include "system_view.hpp"

#include "procfs.hpp"

namespace reuserun {
namespace {

class RealSystem final : public SystemView {
 public:
  bool proc_mounted() const override { return mounted_; }
  std::vector<pid_t> process_tree(pid_t root) const override {
    return reuserun::process_tree(root);
  }
  std::vector<pid_t> all_processes() const override { return list_pids(); }
  // Asked on the loop thread, of processes a child may have filled with fds: within a budget
  // (read_budget.hpp); a holder it could not find in time is not found. Asked once a probe was
  // accepted (at most every --ready-interval), so it may read more than a look: 65536 fds.
  pid_t holder_of_socket(ino_t inode, const std::vector<pid_t>& pids) const override {
    ReadBudget budget({std::chrono::milliseconds(100), 65536, ReadBudget::kOneLook.bytes});
    return reuserun::holder_of_socket(inode, pids, kProcRoot, &budget);
  }
  Result<std::optional<ino_t>> accepted_inode(const SocketAddress& server,
                                              const SocketAddress& client) const override {
    return reuserun::accepted_inode(server, client);
  }
  Result<std::vector<ListeningSocket>> listening_sockets(std::uint16_t port) const override {
    return reuserun::listening_sockets(port);
  }
  WaitFinding socket_waiter(const std::vector<pid_t>& pids, ino_t inode) const override {
    return find_socket_waiter(pids, inode, kProcRoot, ReadBudget::kOneLook,
                              memory_helper());
  }

 private:
  bool mounted_ = reuserun::proc_mounted();  // asked once: it does not come and go
};

}  // namespace

const SystemView& real_system() {
  static const RealSystem system;
  return system;
}

}  // namespace reuserun
