package version

import (
	"strings"

	"github.com/spf13/cobra"
)

// AddFlag gives cmd (a program's root command) a --version flag, without
// a shorthand (-v means --verbose in Surge's commands), that prints
// Line(program) to the command's output and exits 0.
func AddFlag(cmd *cobra.Command, program string) {
	cmd.Version = Get().String()
	// A template without actions: the line is printed as it is.
	cmd.SetVersionTemplate(strings.ReplaceAll(Line(program), "{{", "{{`{{`}}"))
	cmd.Flags().Bool("version", false, "print the version (module version, commit, Go version) and exit")
}

// Command is the `version` subcommand of a program with subcommands: it
// prints Line(program) to the command's output.
func Command(program string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version: module version, commit, Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			cmd.Print(Line(program))
		},
	}
}
