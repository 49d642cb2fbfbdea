package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/fibd/fibd/bench/fibbench"
)

func main() {
	res, err := fibbench.Run(fibbench.Config{Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", "  ")
	e.Encode(res)
}
