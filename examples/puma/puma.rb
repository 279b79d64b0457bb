# Puma (5.1 and later) takes reuserun's socket through systemd socket activation:
# bind_to_activated_sockets "only" uses LISTEN_FDS (checking LISTEN_PID) and binds nothing else.
# SIGTERM is its graceful stop (finish the requests in flight, then exit).
#
#   reuserun --port 8080 --bind 127.0.0.1 -- puma -C puma.rb config.ru
bind_to_activated_sockets "only"
threads 1, 4
raise_exception_on_sigterm false  # exit 0 after a graceful stop, not death by SIGTERM
