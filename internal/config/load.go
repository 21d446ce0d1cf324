package config

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits that keep a hostile or broken file from exhausting the process:
// include: can name any path (/dev/zero), and YAML aliases can expand
// exponentially ("billion laughs").
const (
	maxFileSize     = 16 << 20 // bytes read from one config file
	maxIncludeDepth = 32
	maxNesting      = 100 // nesting depth while decoding, aliases included
	// Nodes visited while decoding, aliases expanded, beyond 4 visits per
	// node actually in the files (see run): big configs always fit, and an
	// alias bomb is cut off in well under a second.
	maxDecodeNodes = 1 << 18
)

// Load reads path (and its includes), resolves secret references using
// lookupEnv, decodes strictly and validates. Problems are all collected: err
// is a *Problems (or nil). Warnings are known LiteLLM keys that Switchboard
// parses but does not act on yet, or soft issues. The returned *Config is
// non-nil whenever err == nil. A nil lookupEnv behaves as an empty
// environment.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, []Warning, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, nil, &Problems{{File: path, Message: err.Error()}}
	}
	return Parse(path, data, filepath.Dir(path), lookupEnv)
}

// Parse is Load on bytes: name is used in messages as the file name, and
// includes are resolved relative to dir.
func Parse(name string, data []byte, dir string, lookupEnv func(string) (string, bool)) (*Config, []Warning, error) {
	l := newLoader(lookupEnv)
	cfg := l.run(name, data, dir)
	return l.finish(cfg)
}

// ForModel builds the config for the single-model quick mode
// (`switchboard --model openai/gpt-4o`): one deployment whose model_name is
// the given string, with the same defaults a file gets. It reads no
// environment: the caller applies LITELLM_MASTER_KEY and the other CLI flags
// (--alias, --api_base, ...) to the returned Config. An unresolvable model is
// reported as a *Problems.
func ForModel(model string) (*Config, error) {
	l := newLoader(nil)
	cfg := &Config{ModelList: []ModelEntry{{ModelName: model, Params: LiteLLMParams{Model: model}}}}
	cfg.ModelList[0].ID = deploymentHash(model, map[string]any{"model": model})
	l.applyDefaults(cfg)
	l.validate(cfg)
	cfg, _, err := l.finish(cfg)
	return cfg, err
}

// loader carries one Load/Parse call's state; nothing outlives the call.
type loader struct {
	procEnv func(string) (string, bool) // the process environment
	cfgEnv  map[string]string           // environment_variables from the config

	problems Problems
	warnings []Warning

	nodeFile map[*yaml.Node]string // file each node was read from
	envRef   map[*yaml.Node]string // scalars whose value came from an env var: the var's name
	pos      map[string]position   // where each decoded path was written
	envAt    map[string]string     // decoded paths whose value came from an env var: the var's name
	nulls    map[string]bool       // decoded paths written as null
	active   map[*yaml.Node]bool   // nodes being decoded, to catch recursive aliases
	quiet    bool                  // drop problems: set while hashing, which decoding repeats
	infos    map[reflect.Type]*structInfo
	features map[string]bool
	set      map[string]*setRecord // features a config sets, for warnings
	setOrder []string

	files  []string          // display names, load order
	stack  []string          // absolute paths of the files being loaded, for cycle detection
	loaded map[string]string // absolute path → display name of the file
	hashes map[*yaml.Node]string
	budget int
	// hashBudget is what hashing model_list entries may still visit: it is
	// shared by all entries so many aliases to one huge value stay cheap.
	hashBudget  int
	parsedNodes int // nodes in all files read, to size the budgets
	depth       int
	tooDeep     bool
}

type position struct {
	file      string
	line, col int
}

type setRecord struct {
	path  string
	file  string
	line  int
	count int
}

func newLoader(lookupEnv func(string) (string, bool)) *loader {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	return &loader{
		procEnv:    lookupEnv,
		cfgEnv:     map[string]string{},
		nodeFile:   map[*yaml.Node]string{},
		envRef:     map[*yaml.Node]string{},
		pos:        map[string]position{},
		envAt:      map[string]string{},
		nulls:      map[string]bool{},
		active:     map[*yaml.Node]bool{},
		infos:      map[reflect.Type]*structInfo{},
		features:   features(),
		set:        map[string]*setRecord{},
		loaded:     map[string]string{},
		hashes:     map[*yaml.Node]string{},
		budget:     maxDecodeNodes,
		hashBudget: maxDecodeNodes,
	}
}

// finish turns the collected problems and warnings into Load's results.
func (l *loader) finish(cfg *Config) (*Config, []Warning, error) {
	l.flushFeatureWarnings()
	slices.SortStableFunc(l.warnings, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	if len(l.problems) > 0 {
		slices.SortStableFunc(l.problems, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		ps := l.problems
		return nil, l.warnings, &ps
	}
	return cfg, l.warnings, nil
}

func (l *loader) lookup(name string) (string, bool) {
	if v, ok := l.cfgEnv[name]; ok {
		return v, true
	}
	return l.procEnv(name)
}

// --- messages -------------------------------------------------------------

func (l *loader) nodePos(n *yaml.Node) position {
	if n == nil {
		return position{}
	}
	return position{file: l.nodeFile[n], line: n.Line, col: n.Column}
}

func (l *loader) problemAt(p position, path, msg string) {
	if l.quiet {
		return
	}
	l.problems = append(l.problems, Problem{File: p.file, Line: p.line, Column: p.col, Path: path, Message: msg})
}

func (l *loader) problem(n *yaml.Node, path, msg string) { l.problemAt(l.nodePos(n), path, msg) }

// problemPath reports at the position recorded for path while decoding.
func (l *loader) problemPath(path, msg string) { l.problemAt(l.pos[path], path, msg) }

func (l *loader) warnAt(p position, path, msg string) {
	l.warnings = append(l.warnings, Warning{File: p.file, Line: p.line, Path: path, Message: msg})
}

func (l *loader) warnPath(path, msg string) { l.warnAt(l.pos[path], path, msg) }

// --- files and includes ---------------------------------------------------

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	defer f.Close()
	// Only regular files: an include of /dev/stdin or a FIFO would block.
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read config %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config file %s is larger than %d MiB", path, maxFileSize>>20)
	}
	return data, nil
}

// section is one top-level key as found in one file.
type section struct {
	file string
	key  *yaml.Node
	val  *yaml.Node
}

// parseFile parses one YAML file and returns its root mapping, or nil when the
// file is empty or unusable (a problem has then been recorded).
func (l *loader) parseFile(name string, data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: an empty config
		}
		l.problems = append(l.problems, yamlSyntaxProblem(name, err))
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		// LiteLLM's yaml.safe_load refuses multi-document files too.
		line := 0
		if err == nil {
			line = extra.Line
		}
		l.problems = append(l.problems, Problem{File: name, Line: line, Message: "a config file must hold a single YAML document (remove the extra ---)"})
		return nil
	}
	l.registerFile(&doc, name)
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.problem(root, "", "the top level must be a mapping of sections (model_list, router_settings, litellm_settings, general_settings, ...)")
		return nil
	}
	return root
}

// yamlSyntaxProblem turns yaml.v3's "yaml: line 3: message" into a Problem.
func yamlSyntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	return Problem{File: file, Line: line, Message: "invalid YAML: " + msg}
}

func (l *loader) registerFile(n *yaml.Node, file string) {
	// Iterative, and aliases are not followed: their targets are registered
	// where they are defined, in the same file.
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, done := l.nodeFile[n]; done {
			continue
		}
		l.nodeFile[n] = file
		l.parsedNodes++
		stack = append(stack, n.Content...)
	}
}

// loadFile parses one file and, depth first, the files it includes. Sections
// come out in order: the file's own first, then each include's, which is how
// included model_list entries end up after the including file's.
func (l *loader) loadFile(name, dir string, data []byte, absPath string) []section {
	l.files = append(l.files, name)
	l.loaded[absPath] = name
	l.stack = append(l.stack, absPath)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	root := l.parseFile(name, data)
	if root == nil {
		return nil
	}
	var own []section
	var includes []*yaml.Node
	known := topLevelKeys()
	seen := map[string]*yaml.Node{}
	for _, p := range l.pairs(root) {
		key := p.key.Value
		first, dup := seen[key]
		seen[key] = p.key
		switch {
		case p.key.Kind != yaml.ScalarNode:
			l.problem(p.key, "", "top-level keys must be plain strings")
		case dup:
			// PyYAML keeps only the last one, so LiteLLM would silently
			// drop the first section.
			l.problem(p.key, key, fmt.Sprintf("section set twice (first at line %d)", first.Line))
		case key == "include":
			includes = append(includes, p.val)
		case slices.Contains(known, key):
			own = append(own, section{file: name, key: p.key, val: p.val})
		default:
			l.problem(p.key, key, l.unknownKeyMessage(reflect.TypeFor[Config](), key))
		}
	}
	for _, inc := range includes {
		own = append(own, l.loadIncludes(name, dir, inc)...)
	}
	return own
}

func (l *loader) loadIncludes(name, dir string, list *yaml.Node) []section {
	list = l.deref(list)
	if list == nil || isNull(list) {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		l.problem(list, "include", "expected a list of file names")
		return nil
	}
	var out []section
	for i, item := range list.Content {
		item = l.deref(item)
		path := fmt.Sprintf("include[%d]", i)
		if item == nil || item.Kind != yaml.ScalarNode || item.ShortTag() != "!!str" || item.Value == "" {
			l.problem(item, path, "expected a file name")
			continue
		}
		out = append(out, l.loadInclude(name, dir, item, path)...)
	}
	return out
}

func (l *loader) loadInclude(parentName, parentDir string, item *yaml.Node, path string) []section {
	rel := item.Value
	readPath, display := rel, rel
	if !filepath.IsAbs(rel) {
		readPath = filepath.Join(parentDir, rel)
		display = filepath.Join(filepath.Dir(parentName), rel)
	}
	abs, err := filepath.Abs(readPath)
	if err != nil {
		abs = filepath.Clean(readPath)
	}
	if i := slices.Index(l.stack, abs); i >= 0 {
		chain := make([]string, 0, len(l.stack)-i+1)
		for _, p := range l.stack[i:] {
			chain = append(chain, l.loaded[p])
		}
		chain = append(chain, display)
		l.problem(item, path, "include cycle: "+strings.Join(chain, " → "))
		return nil
	}
	if first, ok := l.loaded[abs]; ok {
		l.problem(item, path, fmt.Sprintf("%s is included more than once (already loaded as %s)", display, first))
		return nil
	}
	if len(l.stack) >= maxIncludeDepth {
		l.problem(item, path, fmt.Sprintf("includes nested more than %d deep", maxIncludeDepth))
		return nil
	}
	data, err := readConfigFile(readPath)
	if err != nil {
		l.problem(item, path, err.Error())
		return nil
	}
	return l.loadFile(display, filepath.Dir(readPath), data, abs)
}

// topLevelKeys lists the sections a config may have, in Config field order.
func topLevelKeys() []string {
	var keys []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, _ := yamlName(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// --- merging --------------------------------------------------------------

// merge combines the sections of all files into one root mapping, in Config
// field order: lists (model_list, ...) are concatenated, settings mappings are
// merged key by key, and a key set in two files is a problem naming both.
func (l *loader) merge(sections []section) *yaml.Node {
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _ := yamlName(f)
		var mine []section
		for _, s := range sections {
			if s.key.Value == name {
				mine = append(mine, s)
			}
		}
		if len(mine) == 0 {
			continue
		}
		var val *yaml.Node
		if len(mine) == 1 {
			val = mine[0].val
		} else if f.Type.Kind() == reflect.Slice {
			val = l.mergeLists(name, mine)
		} else {
			val = l.mergeMaps(name, mine)
		}
		root.Content = append(root.Content, mine[0].key, val)
	}
	return root
}

func (l *loader) mergeLists(name string, secs []section) *yaml.Node {
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range secs {
		v := l.deref(s.val)
		switch {
		case v == nil || isNull(v):
		case v.Kind != yaml.SequenceNode:
			l.problem(v, name, "expected a list, "+l.describe(v))
		default:
			if out.Line == 0 {
				out.Line, out.Column = v.Line, v.Column
				l.nodeFile[out] = s.file
			}
			out.Content = append(out.Content, v.Content...)
		}
	}
	return out
}

func (l *loader) mergeMaps(name string, secs []section) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	type origin struct {
		sec int
		key *yaml.Node
	}
	seen := map[string]origin{}
	for si, s := range secs {
		v := l.deref(s.val)
		switch {
		case v == nil || isNull(v):
			continue
		case v.Kind != yaml.MappingNode:
			l.problem(v, name, "expected a mapping, "+l.describe(v))
			continue
		}
		if out.Line == 0 {
			out.Line, out.Column = v.Line, v.Column
			l.nodeFile[out] = s.file
		}
		for _, p := range l.pairs(v) {
			if first, dup := seen[p.key.Value]; dup && first.sec != si {
				fp := l.nodePos(first.key)
				l.problem(p.key, name+"."+p.key.Value, fmt.Sprintf("set in both %s:%d and %s:%d; set it in one file only", fp.file, fp.line, s.file, p.key.Line))
				continue
			} else if !dup {
				seen[p.key.Value] = origin{si, p.key}
			}
			// A duplicate inside one file is kept so the decoder reports it.
			out.Content = append(out.Content, p.key, p.val)
		}
	}
	return out
}

// --- the pipeline ---------------------------------------------------------

func (l *loader) run(name string, data []byte, dir string) *Config {
	abs, err := filepath.Abs(filepath.Join(dir, filepath.Base(name)))
	if err != nil {
		abs = name
	}
	sections := l.loadFile(name, dir, data, abs)
	l.budget += 4 * l.parsedNodes
	l.hashBudget += 4 * l.parsedNodes
	root := l.merge(sections)

	// Ids hash the parameters as written, before secrets are substituted.
	if ml := l.sectionValue(root, "model_list"); ml != nil && ml.Kind == yaml.SequenceNode {
		for _, item := range ml.Content {
			l.hashEntry(l.deref(item))
		}
	}

	// environment_variables first: LiteLLM exports them before it reads the
	// rest, so references elsewhere see them.
	if ev := l.sectionValue(root, "environment_variables"); ev != nil {
		l.loadEnvironment(ev)
	}
	visited := map[*yaml.Node]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i].Value; k != "environment_variables" {
			l.resolveSecrets(root.Content[i+1], k, visited)
		}
	}

	cfg := &Config{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		if key.Value == "environment_variables" {
			l.noteSet("environment_variables", "environment_variables", key, val)
			continue
		}
		l.decodeField(key, val, reflect.ValueOf(cfg).Elem(), "", "")
	}
	cfg.EnvironmentVariables = l.cfgEnv
	cfg.Files = l.files
	cfg.Include = l.files[1:]
	if ml := l.sectionValue(root, "model_list"); ml != nil && ml.Kind == yaml.SequenceNode {
		for i, item := range ml.Content {
			if i >= len(cfg.ModelList) {
				break
			}
			item = l.deref(item)
			e := &cfg.ModelList[i]
			p := l.nodePos(item)
			e.File, e.Line = p.file, p.line
			e.ID = l.hashes[item]
		}
	}
	l.applyDefaults(cfg)
	l.validate(cfg)
	return cfg
}

// sectionValue returns the (alias-resolved) value of a top-level key of the
// merged root, or nil.
func (l *loader) sectionValue(root *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return l.deref(root.Content[i+1])
		}
	}
	return nil
}

// hashEntry records the default id of one model_list item: a hash of its
// model_name and litellm_params. LiteLLM hashes the same inputs; its ids are
// full sha256 hex, ours a 16-character prefix (ids only need to be unique and
// stable, and short ones read better in logs).
func (l *loader) hashEntry(item *yaml.Node) {
	if item == nil || item.Kind != yaml.MappingNode {
		return
	}
	// Hashing walks the same nodes decoding walks next; let decoding report
	// what is wrong with them, with its own budget.
	budget, tooDeep := l.budget, l.tooDeep
	l.budget, l.tooDeep, l.quiet = l.hashBudget, false, true
	defer func() {
		l.hashBudget = max(l.budget, 0)
		l.budget, l.tooDeep, l.quiet = budget, tooDeep, false
	}()
	var name string
	var params any
	for _, p := range l.pairs(item) {
		switch p.key.Value {
		case "model_name":
			if v := l.deref(p.val); v != nil {
				name = v.Value
			}
		case "litellm_params":
			params = l.toAny(p.val, "")
		}
	}
	l.hashes[item] = deploymentHash(name, params)
}

func deploymentHash(name string, params any) string {
	// encoding/json sorts map keys, which makes the hash independent of the
	// order keys were written in.
	b, err := json.Marshal(params)
	if err != nil {
		b = fmt.Appendf(nil, "%v", params)
	}
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// --- secrets --------------------------------------------------------------

// loadEnvironment reads environment_variables. Values are stringified the
// way LiteLLM does (os.environ[k] = str(v)) and may themselves refer to the
// process environment with os.environ/NAME or ${NAME}.
func (l *loader) loadEnvironment(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.problem(n, "environment_variables", "expected a mapping of NAME: value, "+l.describe(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for _, p := range l.pairs(n) {
		name := p.key.Value
		path := "environment_variables." + name
		if p.key.Kind != yaml.ScalarNode || name == "" {
			l.problem(p.key, "environment_variables", "variable names must be plain strings")
			continue
		}
		if first, dup := seen[name]; dup {
			l.problem(p.key, path, fmt.Sprintf("set twice (first at line %d)", first.Line))
			continue
		}
		seen[name] = p.key
		v := l.deref(p.val)
		switch {
		case v == nil || isNull(v):
			l.cfgEnv[name] = ""
		case v.Kind != yaml.ScalarNode:
			l.problem(v, path, "expected a string, "+l.describe(v))
		default:
			if v.ShortTag() == "!!str" {
				// Only the process environment: entries do not see each other,
				// as with LiteLLM, which exports them one by one.
				l.resolveScalar(v, path, l.procEnv)
			}
			l.cfgEnv[name] = v.Value
		}
	}
}

// resolveSecrets replaces os.environ/NAME and ${NAME} references in every
// string scalar under n. Each node is resolved once even when aliases make it
// reachable twice, so a value that happens to contain "${" after
// substitution is never expanded again.
func (l *loader) resolveSecrets(n *yaml.Node, path string, visited map[*yaml.Node]bool) {
	if n == nil || visited[n] {
		return
	}
	visited[n] = true
	switch n.Kind {
	case yaml.AliasNode:
		l.resolveSecrets(n.Alias, path, visited)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			sub := path
			if k.Value != "<<" {
				sub = joinPath(path, k.Value)
			}
			l.resolveSecrets(n.Content[i+1], sub, visited)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.resolveSecrets(c, indexPath(path, i), visited)
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			l.resolveScalar(n, path, l.lookup)
		}
	}
}

const envPrefix = "os.environ/"

// resolveScalar substitutes references in one string scalar, in place.
func (l *loader) resolveScalar(n *yaml.Node, path string, lookup func(string) (string, bool)) {
	v := n.Value
	if name, ok := strings.CutPrefix(v, envPrefix); ok {
		if name == "" {
			l.problem(n, path, "os.environ/ needs a variable name, as in os.environ/OPENAI_API_KEY")
			return
		}
		val, ok := lookup(name)
		if !ok {
			l.unsetVariable(n, path, name)
		}
		l.setResolved(n, val, name)
		return
	}
	if !strings.Contains(v, "${") {
		return
	}
	var b strings.Builder
	first := ""
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			break
		}
		b.WriteString(v[:i])
		rest := v[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 || !isEnvName(rest[:end]) {
			// Not a ${NAME} reference: keep the text as written.
			b.WriteString("${")
			v = rest
			continue
		}
		name := rest[:end]
		val, ok := lookup(name)
		if !ok {
			l.unsetVariable(n, path, name)
		}
		if first == "" {
			first = name
		}
		b.WriteString(val)
		v = rest[end+1:]
	}
	if first != "" {
		l.setResolved(n, b.String(), first)
	}
}

func (l *loader) setResolved(n *yaml.Node, val, name string) {
	n.Value = val
	// Pin the tag so the substituted text is never re-read as a number or a
	// bool by yaml.v3; typed fields parse env-supplied text themselves.
	n.Tag = "!!str"
	l.envRef[n] = name
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// unsetVariable reports a reference to a variable that is not set. Without a
// master key the proxy would run unauthenticated and without a database URL
// it would run without its store, so those two are errors; anywhere else the
// value becomes "" and the user gets a warning.
func (l *loader) unsetVariable(n *yaml.Node, path, name string) {
	msg := fmt.Sprintf("refers to environment variable %s, which is not set", name)
	switch path {
	case "general_settings.master_key", "general_settings.database_url":
		l.problem(n, path, msg)
	default:
		l.warnAt(l.nodePos(n), path, msg+"; using an empty value")
	}
}

// --- defaults -------------------------------------------------------------

// defaultRequestTimeout is LiteLLM's litellm.request_timeout default.
const defaultRequestTimeout = Duration(6000 * 1e9)

// applyDefaults fills in what LiteLLM fills in when a key is absent:
//   - litellm_settings.request_timeout: 6000 s, LiteLLM's module default.
//   - general_settings.master_key / database_url / store_model_in_db: from
//     LITELLM_MASTER_KEY, DATABASE_URL and STORE_MODEL_IN_DB (§2.5), which
//     LiteLLM reads when the config leaves them out.
//   - general_settings.max_request_size_mb: stays 0, meaning "use the
//     server's default limit".
func (l *loader) applyDefaults(cfg *Config) {
	if cfg.LiteLLMSettings.RequestTimeout == 0 {
		cfg.LiteLLMSettings.RequestTimeout = defaultRequestTimeout
	}
	gs := &cfg.GeneralSettings
	if gs.MasterKey == "" {
		if _, inFile := l.pos["general_settings.master_key"]; !inFile {
			gs.MasterKey, _ = l.lookup("LITELLM_MASTER_KEY")
		}
	}
	if gs.DatabaseURL == "" {
		if _, inFile := l.pos["general_settings.database_url"]; !inFile {
			gs.DatabaseURL, _ = l.lookup("DATABASE_URL")
		}
	}
	if gs.StoreModelInDB == nil {
		if v, ok := l.lookup("STORE_MODEL_IN_DB"); ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				l.warnAt(position{}, "general_settings.store_model_in_db", "STORE_MODEL_IN_DB is not true or false; ignored")
			} else {
				gs.StoreModelInDB = &b
			}
		}
	}
}
