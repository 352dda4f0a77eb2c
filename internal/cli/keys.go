package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newKeysCmd) }

// KeyListEntry is one key pair in `belay keys list -o json`.
type KeyListEntry struct {
	Name    string `json:"name"`
	ID      string `json:"id,omitempty"` // empty when neither file parses
	Private string `json:"private,omitempty"`
	Public  string `json:"public,omitempty"`
	Problem string `json:"problem,omitempty"`
}

func newKeysCmd(g *Globals) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage the ed25519 keys that sign artifacts",
		Args:  cobra.NoArgs,
	}
	keys.AddCommand(newKeysCreateCmd(g), newKeysListCmd(g))
	return keys
}

func newKeysCreateCmd(g *Globals) *cobra.Command {
	var name, file string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an ed25519 key pair for signing artifacts",
		Long: "create writes NAME.key (private, PKCS#8 PEM, mode 0600) and NAME.pub (public, PEM) under\n" +
			"$BELAY_HOME/keys. `belay build` signs with keys/belay.key unless --key says otherwise; list the\n" +
			"public key under artifacts.trusted_keys in belay.yaml so that verification trusts it.\n" +
			"Inside a git working tree it refuses to write the private key where git would not ignore it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.HomeDir(file)
			dir := filepath.Join(home, "keys")
			if err := refuseUnignored(filepath.Join(dir, name+".key"), home); err != nil {
				return err
			}
			kf, err := artifact.CreateKey(dir, name)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), kf, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "key %s\nprivate %s\npublic  %s\n", kf.ID, kf.Private, kf.Public)
				return err
			})
		},
	}
	create.Flags().StringVar(&name, "name", "belay", "key name: files NAME.key and NAME.pub")
	create.Flags().StringVarP(&file, "file", "f", "belay.yaml", "the project's belay.yaml (locates the default home directory)")
	return create
}

func newKeysListCmd(g *Globals) *cobra.Command {
	var file string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the key pairs under $BELAY_HOME/keys with their ids",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := filepath.Join(g.HomeDir(file), "keys")
			keys, err := listKeys(dir)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), keys, func(w io.Writer) error {
				if len(keys) == 0 {
					_, err := fmt.Fprintf(w, "no keys in %s: create one with `belay keys create`\n", dir)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tID\tPRIVATE\tPUBLIC")
				for _, k := range keys {
					id := dash(k.ID)
					if k.Problem != "" {
						id = "unreadable: " + k.Problem
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, id, dash(k.Private), dash(k.Public))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVarP(&file, "file", "f", "belay.yaml", "the project's belay.yaml (locates the default home directory)")
	return list
}

// listKeys finds NAME.key and NAME.pub files in dir, pairs them by name and
// reads each pair's id from whichever file parses (the public one first).
func listKeys(dir string) ([]KeyListEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return []KeyListEntry{}, nil
	} else if err != nil {
		return nil, err
	}
	byName := map[string]*KeyListEntry{}
	for _, e := range ents {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || ext != ".key" && ext != ".pub" {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ext)
		k := byName[name]
		if k == nil {
			k = &KeyListEntry{Name: name}
			byName[name] = k
		}
		if ext == ".key" {
			k.Private = filepath.Join(dir, e.Name())
		} else {
			k.Public = filepath.Join(dir, e.Name())
		}
	}
	out := make([]KeyListEntry, 0, len(byName))
	for _, k := range byName {
		if k.Public != "" {
			if pk, err := artifact.LoadPublicKey(k.Public); err == nil {
				k.ID = pk.ID
			} else {
				k.Problem = err.Error()
			}
		} else if s, err := artifact.LoadSigner(k.Private); err == nil {
			k.ID = s.ID
		} else {
			k.Problem = err.Error()
		}
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// refuseUnignored refuses a private key path inside a git working tree
// that git does not ignore: `git add -A` would commit it. Without git, or
// outside a working tree, there is nothing to refuse.
func refuseUnignored(path, home string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(abs)
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	top, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return nil // no git, or not a working tree
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return err
	}
	err = exec.Command("git", "-C", dir, "check-ignore", "-q", "--", rel).Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil // ignored
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		root := strings.TrimSpace(string(top))
		return &hintError{code: "unsafe",
			msg:  fmt.Sprintf("refusing to write the private key %s: it is inside the git working tree %s and git does not ignore it, so `git add -A` would commit it", path, root),
			hint: fmt.Sprintf("add the line %s to %s (`belay init` does), or put the home elsewhere with --home", ignoreLine(root, home), filepath.Join(root, ".gitignore"))}
	}
	return fmt.Errorf("git check-ignore %s: %w", path, err)
}

// ignoreLine is the .gitignore line, in the working tree at root, that
// ignores the home directory: .belay/ matches the default home at any depth.
func ignoreLine(root, home string) string {
	if filepath.Base(home) == ".belay" {
		return ".belay/"
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return filepath.Base(home) + "/"
	}
	// git names root with symlinks resolved; resolve the part of home that exists.
	dir, rest := abs, ""
	for {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			abs = filepath.Join(real, rest)
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
		dir, rest = filepath.Dir(dir), filepath.Join(filepath.Base(dir), rest)
	}
	if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return "/" + filepath.ToSlash(rel) + "/"
	}
	return filepath.Base(home) + "/"
}
