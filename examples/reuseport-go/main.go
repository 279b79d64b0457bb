// The classic SO_REUSEPORT server that reuserun grew out of: it binds ADDRESS:PORT itself with
// SO_REUSEPORT (so a new copy can start beside the old one), serves net/http, and drains on
// SIGTERM with http.Server.Shutdown. It knows nothing of LISTEN_FDS: under reuserun its own
// bind() is given reuserun's shared socket (the bind takeover). Standard library only.
//
//	CGO_ENABLED=0 go build -o reuseport-go examples/reuseport-go/main.go
//	reuserun --port 8080 -- ./reuseport-go 127.0.0.1:8080
//
// GET / answers "pid=PID": which copy answered.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: reuseport-go ADDRESS:PORT")
	}
	config := net.ListenConfig{Control: func(_, _ string, raw syscall.RawConn) error {
		var err error
		if control := raw.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
		}); control != nil {
			return control
		}
		return err
	}}
	listener, err := config.Listen(context.Background(), "tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "pid=%d\n", os.Getpid())
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- server.Serve(listener) }()
	select {
	case err := <-done:
		log.Fatal(err)
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
}
