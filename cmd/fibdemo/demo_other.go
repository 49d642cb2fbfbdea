//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMain(os.Args[2:]))
	}
	fmt.Fprintln(os.Stderr, "fibdemo needs Linux: network namespaces, veth and AF_PACKET/AF_XDP")
	os.Exit(2)
}
