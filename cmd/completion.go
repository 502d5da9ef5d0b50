package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The scripts ask den itself for candidates (urfave/cli's --generate-bash-completion), so
// they stay right as commands and flags change.
const bashCompletion = `_den_complete() {
	local cur="${COMP_WORDS[COMP_CWORD]}"
	local opts
	opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	return 0
}
complete -o default -F _den_complete den
`

const zshCompletion = `#compdef den
_den() {
	local -a opts
	opts=("${(@f)$(${words[1]} ${words[@]:1:$CURRENT-2} --generate-bash-completion 2>/dev/null)}")
	_describe 'values' opts
}
compdef _den den
`

func completionCmd() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script",
		ArgsUsage: "bash|zsh",
		Description: `Examples:
   source <(den completion bash)
   den completion zsh > "${fpath[1]}/_den"`,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			default:
				return withCode(125, fmt.Errorf("shell %q is not supported: use bash or zsh", c.Args().First()))
			}
			return nil
		},
	}
}
