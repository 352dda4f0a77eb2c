package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// ConfigFile is the project's gitleaks configuration, read at the root of the
// scanned tree or repository as gitleaks reads it.
const ConfigFile = ".gitleaks.toml"

// loadConfig gives gitleaks' default rules and allowlists with the project's
// file, when there is one, laid over them: its rules are added (or, with the
// id of a default rule, merged into it as gitleaks' [extend] useDefault
// merges), its allowlists are added, and [extend] disabledRules drops default
// rules. The file need not say useDefault: belay always starts from the
// defaults, so a project file adds to them and never silently replaces them.
//
// The merge happens before gitleaks translates the configuration, once per
// scan, because gitleaks' own extend keeps a process-wide depth counter that
// makes a second load in one process skip the extension.
func loadConfig(file string) (cfg config.Config, used bool, err error) {
	base, err := readViperConfig(viper.New(), func(v *viper.Viper) error {
		v.SetConfigType("toml")
		return v.ReadConfig(strings.NewReader(config.DefaultConfig))
	})
	if err != nil {
		return config.Config{}, false, fmt.Errorf("gitleaks' default rules: %w", err)
	}
	if data, err := os.ReadFile(file); err == nil {
		// viper's own message has no position; go-toml's has.
		var de *toml.DecodeError
		if err := toml.Unmarshal(data, new(map[string]any)); errors.As(err, &de) {
			line, col := de.Position()
			return config.Config{}, false, fmt.Errorf("%w: %s:%d:%d: %v", ErrConfig, file, line, col, de)
		}
		proj, err := readViperConfig(viper.New(), func(v *viper.Viper) error {
			v.SetConfigFile(file)
			v.SetConfigType("toml")
			return v.ReadInConfig()
		})
		if err != nil {
			return config.Config{}, false, fmt.Errorf("%w: %s: %v", ErrConfig, file, err)
		}
		if err := overlay(&base, proj); err != nil {
			return config.Config{}, false, fmt.Errorf("%w: %s: %v", ErrConfig, file, err)
		}
		used = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return config.Config{}, false, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	cfg, err = translate(&base)
	if err != nil {
		if used {
			return config.Config{}, false, fmt.Errorf("%w: %s: %v", ErrConfig, file, err)
		}
		return config.Config{}, false, fmt.Errorf("gitleaks' default rules: %w", err)
	}
	cfg.Path = filepath.ToSlash(file)
	return cfg, used, nil
}

func readViperConfig(v *viper.Viper, read func(*viper.Viper) error) (config.ViperConfig, error) {
	var vc config.ViperConfig
	if err := read(v); err != nil {
		return vc, err
	}
	if err := v.Unmarshal(&vc); err != nil {
		return vc, err
	}
	// Both spellings of the global allowlist become the list form, so that the
	// project's and the defaults' can sit side by side.
	//lint:ignore SA1019 gitleaks' own default config still uses [allowlist]; this turns it into the list form
	if vc.AllowList != nil {
		//lint:ignore SA1019 as above
		vc.Allowlists, vc.AllowList = append(vc.Allowlists, vc.AllowList), nil
	}
	for i := range vc.Rules {
		if r := &vc.Rules[i]; r.AllowList != nil {
			r.Allowlists = append(r.Allowlists, r.AllowList)
			r.AllowList = nil
		}
	}
	return vc, nil
}

// overlay lays the project's configuration over the defaults in base.
func overlay(base *config.ViperConfig, proj config.ViperConfig) error {
	if proj.Extend.Path != "" || proj.Extend.URL != "" {
		return errors.New("[extend] path and url are not supported: belay always extends gitleaks' default rules; put the extra rules in this file")
	}
	disabled := map[string]bool{}
	for _, id := range proj.Extend.DisabledRules {
		disabled[id] = true
	}
	rules := base.Rules[:0]
	index := map[string]int{}
	for _, r := range base.Rules {
		if !disabled[r.ID] {
			index[r.ID] = len(rules)
			rules = append(rules, r)
		}
	}
	for _, pr := range proj.Rules {
		i, ok := index[pr.ID]
		if !ok {
			index[pr.ID] = len(rules)
			rules = append(rules, pr)
			continue
		}
		// As gitleaks' extend: the project's non-empty fields win, lists add up.
		r := &rules[i]
		if pr.Description != "" {
			r.Description = pr.Description
		}
		if pr.Entropy != 0 {
			r.Entropy = pr.Entropy
		}
		if pr.SecretGroup != 0 {
			r.SecretGroup = pr.SecretGroup
		}
		if pr.Regex != "" {
			r.Regex = pr.Regex
		}
		if pr.Path != "" {
			r.Path = pr.Path
		}
		r.Tags = append(r.Tags, pr.Tags...)
		r.Keywords = append(r.Keywords, pr.Keywords...)
		r.Allowlists = append(r.Allowlists, pr.Allowlists...)
		r.Required = append(r.Required, pr.Required...)
		r.SkipReport = r.SkipReport || pr.SkipReport
	}
	base.Rules = rules
	base.Allowlists = append(base.Allowlists, proj.Allowlists...)
	return nil
}

// translate compiles the configuration; gitleaks panics on a regular
// expression that does not compile, which becomes an error here.
func translate(vc *config.ViperConfig) (cfg config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return vc.Translate()
}
