//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fibdemo needs Linux: network namespaces, veth and AF_PACKET/AF_XDP")
	os.Exit(2)
}
