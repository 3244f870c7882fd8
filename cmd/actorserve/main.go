// Command actorserve runs an actorserve node, the embedded broker, or a
// client tool. See README.md and `actorserve help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/actorserve/actorserve/cmd/actorserve/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := app.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, app.ErrUsage):
		fmt.Fprintln(os.Stderr, "actorserve:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "actorserve:", err)
		os.Exit(1)
	}
}
