// A Go net/http server that takes its listening socket from reuserun the systemd way (fd 3,
// LISTEN_FDS, LISTEN_PID), standard library only, and drains on SIGTERM with
// http.Server.Shutdown: it stops accepting, finishes open requests, closes idle keep-alive
// connections and exits 0.
//
//	go build -o hello-go examples/go/main.go
//	reuserun --port 8080 -- ./hello-go
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// inheritedListener is fd 3 when LISTEN_PID names this process (sd_listen_fds(3)).
func inheritedListener() (net.Listener, error) {
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return nil, fmt.Errorf("LISTEN_PID %q is not this process (%d)", os.Getenv("LISTEN_PID"), os.Getpid())
	}
	if count, err := strconv.Atoi(os.Getenv("LISTEN_FDS")); err != nil || count < 1 {
		return nil, fmt.Errorf("LISTEN_FDS %q names no socket", os.Getenv("LISTEN_FDS"))
	}
	file := os.NewFile(3, "listener")
	defer file.Close() // FileListener dups it
	return net.FileListener(file)
}

func main() {
	listener, err := inheritedListener()
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "hello from go")
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
