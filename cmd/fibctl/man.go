package main

import (
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manDate is the date the man pages carry: fixed, so that regenerating
// them changes nothing unless the commands changed (TestManPagesFresh).
var manDate = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// newManCmd writes fibctl's man pages (section 1, one per command) into a
// directory: `fibctl __man contrib/man` regenerates the committed ones.
func newManCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "__man DIR",
		Short:  "Write fibctl's man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeMan(root, args[0])
		},
	}
}

func writeMan(root *cobra.Command, dir string) error {
	root.DisableAutoGenTag = true
	root.InitDefaultCompletionCmd() // cobra adds it at Execute; the pages list it either way
	return doc.GenManTree(root, &doc.GenManHeader{Title: "FIBCTL", Section: "1", Source: "fibd", Manual: "fibd manual", Date: &manDate}, dir)
}
