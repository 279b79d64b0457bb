# fish completion for reuserun

# The tokens of the child's command line (after reuserun's options, or after "--"), printed one a
# line; nothing while still in reuserun's options. The current token is not included.
function __reuserun_child_tokens
    set -l tokens (commandline -opc)
    set -e tokens[1]
    test "$tokens[1]" = ctl; and return
    set -l takes_value --port --bind --listen --protocol --backlog --free-port --ready-timeout --ready --ready-interval \
        --ready-host --start-attempts --drain-timeout --stop-timeout --stop-signal --watchdog --log-level --log-format --pid-file \
        --control-socket --reexec-as --workers --max-surge --user --group --chdir --env --env-file \
        --restart-signal --watch --watch-settle
    set -l skip 0
    for i in (seq (count $tokens))
        set -l token $tokens[$i]
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test "$token" = --
            set i (math $i + 1)
            test $i -le (count $tokens); and printf '%s\n' $tokens[$i..-1]
            # "--" ends the options even before a command word is typed
            test $i -gt (count $tokens); and printf "%s\n" --
            return
        end
        if contains -- $token $takes_value
            set skip 1
            continue
        end
        if not string match -q -- '-*' $token
            printf '%s\n' $tokens[$i..-1]
            return
        end
    end
end

# Options only before the child command; after it, complete the child command itself.
function __reuserun_in_options
    set -l tokens (commandline -opc)
    test "$tokens[2]" = ctl; and return 1
    test (count (__reuserun_child_tokens)) -eq 0
end

# The child's own completion, as if its command line were typed alone.
function __reuserun_complete_child
    set -l child (__reuserun_child_tokens)
    test "$child" = --; and set child
    if test (count $child) -eq 0
        __fish_complete_command
        return
    end
    complete -C (string join ' ' -- (string escape -- $child) (commandline -ct))
end

set -l durations '100ms 500ms 1s 5s 10s 30s 1m'
complete -c reuserun -n __reuserun_in_options -l port -x -d 'TCP port to listen on'
complete -c reuserun -n __reuserun_in_options -l bind -x -d 'Address to listen on'
complete -c reuserun -n __reuserun_in_options -l listen -x -a 'unix:/ udp: unix-dgram:/ unix-seqpacket:/ 127.0.0.1: [::1]: [::]:' -d 'Another socket'
complete -c reuserun -n __reuserun_in_options -l ipv6-only -d 'IPv6 sockets serve IPv6 only'
complete -c reuserun -n __reuserun_in_options -l protocol -x -a 'systemd einhorn server-starter nginx' -d 'How children find their sockets'
complete -c reuserun -n __reuserun_in_options -l backlog -x -d 'Length of the listen queue'
complete -c reuserun -n __reuserun_in_options -l free-port -x -a 'safe force off' -d 'Who on the port is asked to leave'
complete -c reuserun -n __reuserun_in_options -l no-free-port -d 'The same as --free-port=off'
complete -c reuserun -n __reuserun_in_options -l ready-timeout -x -a $durations -d 'Time to get ready'
complete -c reuserun -n __reuserun_in_options -l ready -x -a 'auto notify accept http:/ exec: delay:' -d 'Readiness gate'
complete -c reuserun -n __reuserun_in_options -l ready-interval -x -a $durations -d 'Time between two probes'
complete -c reuserun -n __reuserun_in_options -l ready-host -x -d 'Host header of the http gate'
complete -c reuserun -n __reuserun_in_options -l strict-adoption -d 'Fail a generation that listens by itself'
complete -c reuserun -n __reuserun_in_options -l drain-timeout -x -a $durations -d 'Drain time before SIGKILL'
complete -c reuserun -n __reuserun_in_options -l stop-timeout -x -a $durations -d 'Stop time before SIGKILL'
complete -c reuserun -n __reuserun_in_options -l watchdog -x -a $durations -d 'Watchdog each worker must ping'
complete -c reuserun -n __reuserun_in_options -l stop-signal -x -a 'TERM INT QUIT HUP USR1 USR2 KILL WINCH' -d 'Signal that asks to drain'
complete -c reuserun -n __reuserun_in_options -l pid-file -r -F -d 'Write the pid to this file'
complete -c reuserun -n __reuserun_in_options -l subreaper -d 'Reap and stop what the children leave (default)'
complete -c reuserun -n __reuserun_in_options -l no-subreaper -d 'Let what the children leave escape to init'
complete -c reuserun -n __reuserun_in_options -l nonblocking -d 'Hand the sockets non-blocking'
complete -c reuserun -n __reuserun_in_options -l start-attempts -x -a '1 3 10 unlimited' -d 'Failed first starts before giving up'
complete -c reuserun -n __reuserun_in_options -l workers -x -d 'Children per generation'
complete -c reuserun -n __reuserun_in_options -l max-surge -x -d 'New workers starting at once'
complete -c reuserun -n __reuserun_in_options -l user -x -a '(__fish_complete_users)' -d 'Run the children as this user'
complete -c reuserun -n __reuserun_in_options -l group -x -a '(__fish_complete_groups)' -d 'Run the children with this group'
complete -c reuserun -n __reuserun_in_options -l chdir -x -a '(__fish_complete_directories)' -d 'Start the children in this directory'
complete -c reuserun -n __reuserun_in_options -l env -x -d 'KEY=VALUE for the children'
complete -c reuserun -n __reuserun_in_options -l env-file -r -F -d 'Variables for the children, read at each start'
complete -c reuserun -n __reuserun_in_options -l restart-signal -x -a 'HUP USR1 WINCH TTIN TTOU' -d 'Signal that starts a rolling restart'
complete -c reuserun -n __reuserun_in_options -l watch -r -F -d 'Restart when this file is replaced or written'
complete -c reuserun -n __reuserun_in_options -l watch-settle -x -a '500ms 1s 2s 5s' -d 'Quiet time before a watched change restarts'
complete -c reuserun -n __reuserun_in_options -l pdeathsig -d 'Children get SIGTERM when reuserun dies'
complete -c reuserun -n __reuserun_in_options -l no-pdeathsig -d 'Let the children outlive reuserun (the default)'
complete -c reuserun -n __reuserun_in_options -l no-bind-takeover -d 'A child that binds the port itself gets its own socket'
complete -c reuserun -n __reuserun_in_options -l control-socket -r -F -d 'Path of the control socket'
complete -c reuserun -n __reuserun_in_options -l reexec-as -r -F -d 'The reuserun binary an upgrade executes'
complete -c reuserun -n __reuserun_in_options -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c reuserun -n __reuserun_in_options -l log-format -x -a 'text json' -d 'Log format'
complete -c reuserun -n __reuserun_in_options -l help -d 'Show the options'
complete -c reuserun -n __reuserun_in_options -l version -d 'Show the version'
# reuserun ctl [--control-socket PATH | --port PORT] [--json] restart|status|upgrade
function __reuserun_in_ctl
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and test "$tokens[2]" = ctl
end
complete -c reuserun -n '__fish_is_first_arg' -x -a ctl -d 'Restart, upgrade or query a running reuserun'
complete -c reuserun -n __reuserun_in_ctl -x -a 'restart status upgrade'
complete -c reuserun -n __reuserun_in_ctl -l control-socket -r -F -d 'Path of the control socket'
complete -c reuserun -n __reuserun_in_ctl -l port -x -d 'The port reuserun listens on'
complete -c reuserun -n __reuserun_in_ctl -l json -d 'Print the answer as JSON'
complete -c reuserun -n 'not __reuserun_in_options; and not __reuserun_in_ctl' -x -a '(__reuserun_complete_child)'
complete -c reuserun -n __reuserun_in_options -x -a '(__fish_complete_command)'
