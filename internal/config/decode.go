package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The decoder walks yaml.Node trees into the Config types by reflection
// instead of using yaml.v3's Decode: yaml.v3 stops at the first unknown key
// (with KnownFields) and reports neither columns, key paths nor suggestions,
// and this decoder also records where every value was written (for later
// validation messages) and which features a config sets (for warnings).

// structInfo describes the YAML keys of one struct type.
type structInfo struct {
	fields map[string]fieldInfo
	names  []string // keys in declaration order, for suggestions
	extra  int      // index of the ",inline" map field, or -1
}

type fieldInfo struct {
	index int
	// numstr: also accept a quoted number, for keys LiteLLM documents as
	// strings but uses as numbers (redis_port: "6379").
	numstr bool
}

// yamlName returns the key of a struct field and its options; "" means the
// field is not read from YAML.
func yamlName(f reflect.StructField) (string, []string) {
	tag, ok := f.Tag.Lookup("yaml")
	if !ok || tag == "-" {
		return "", nil
	}
	parts := strings.Split(tag, ",")
	return parts[0], parts[1:]
}

func (l *loader) info(t reflect.Type) *structInfo {
	if si, ok := l.infos[t]; ok {
		return si
	}
	si := &structInfo{fields: map[string]fieldInfo{}, extra: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts := yamlName(f)
		if name == "" {
			if slices.Contains(opts, "inline") {
				si.extra = i
			}
			continue
		}
		si.fields[name] = fieldInfo{index: i, numstr: slices.Contains(opts, "numstr")}
		si.names = append(si.names, name)
	}
	l.infos[t] = si
	return si
}

// place names a struct type the way a user would look for it in the file.
func placeName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Config]():
		return "the top level"
	case reflect.TypeFor[ModelEntry]():
		return "a model_list entry"
	case reflect.TypeFor[LiteLLMParams]():
		return "litellm_params"
	case reflect.TypeFor[ModelInfo]():
		return "model_info"
	case reflect.TypeFor[RouterSettings]():
		return "router_settings"
	case reflect.TypeFor[LiteLLMSettings]():
		return "litellm_settings"
	case reflect.TypeFor[GeneralSettings]():
		return "general_settings"
	}
	return ""
}

// places are the structs users most often put a key in by mistake, in the
// order a "belongs in" suggestion prefers them.
func places() []reflect.Type {
	return []reflect.Type{
		reflect.TypeFor[Config](),
		reflect.TypeFor[GeneralSettings](),
		reflect.TypeFor[RouterSettings](),
		reflect.TypeFor[LiteLLMSettings](),
		reflect.TypeFor[ModelEntry](),
		reflect.TypeFor[LiteLLMParams](),
		reflect.TypeFor[ModelInfo](),
	}
}

// keysOf lists the keys a struct type accepts, including the known untyped
// litellm_params keys.
func (l *loader) keysOf(t reflect.Type) []string {
	keys := slices.Clone(l.info(t).names)
	if t == reflect.TypeFor[Config]() {
		keys = append(keys, "include")
	}
	if t == reflect.TypeFor[LiteLLMParams]() {
		keys = append(keys, l.extraParams()...)
	}
	return keys
}

// extraParams are the untyped litellm_params keys of the features table.
func (l *loader) extraParams() []string {
	typed := l.info(reflect.TypeFor[LiteLLMParams]()).fields
	var out []string
	for k := range l.features {
		if name, ok := strings.CutPrefix(k, "model_list.litellm_params."); ok {
			if _, isTyped := typed[name]; !isTyped {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// acceptsExtra says whether key may go into t's inline Extra map.
func (l *loader) acceptsExtra(t reflect.Type, key string) bool {
	switch t {
	case reflect.TypeFor[ModelInfo]():
		return true // free-form metadata
	case reflect.TypeFor[LiteLLMParams]():
		_, ok := l.features["model_list.litellm_params."+key]
		return ok
	}
	return false
}

// unknownKeyMessage explains an unknown key in struct type t: a likely typo of
// a key of the same section first, then the same key in another section
// ("master_key belongs in general_settings"), then a likely typo of a key of
// another section.
func (l *loader) unknownKeyMessage(t reflect.Type, key string) string {
	if s, ok := closestKey(key, l.keysOf(t)); ok {
		return fmt.Sprintf("unknown key (did you mean %q?)", s)
	}
	here := placeName(t)
	if here == "" {
		// A nested struct (retry_policy, ...): only its own keys make sense.
		return "unknown key; expected one of " + strings.Join(l.keysOf(t), ", ")
	}
	for _, other := range places() {
		if other != t && slices.Contains(l.keysOf(other), key) {
			return fmt.Sprintf("unknown key in %s (it belongs in %s)", here, placeName(other))
		}
	}
	for _, other := range places() {
		if other == t {
			continue
		}
		if s, ok := closestKey(key, l.keysOf(other)); ok {
			return fmt.Sprintf("unknown key in %s (did you mean %q, which belongs in %s?)", here, s, placeName(other))
		}
	}
	return "unknown key in " + here
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// --- node helpers ---------------------------------------------------------

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// deref follows aliases. A dangling alias yields nil; yaml.v3 rejects those
// while parsing, so this is only defensive.
func (l *loader) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxNesting {
			return nil
		}
		n = n.Alias
	}
	return n
}

type pair struct{ key, val *yaml.Node }

// pairs lists a mapping's key/value pairs with YAML merge keys ("<<: *base")
// expanded: explicit keys come first (duplicates included, for the caller to
// report) and keys merged in are added only when not explicitly set, earlier
// merge sources winning, as the YAML merge-key spec says.
func (l *loader) pairs(n *yaml.Node) []pair {
	return l.pairsDepth(n, 0)
}

func (l *loader) pairsDepth(n *yaml.Node, depth int) []pair {
	var explicit, merged []pair
	var sources []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			v = l.deref(v)
			if v == nil {
				continue
			}
			if v.Kind == yaml.SequenceNode {
				for _, s := range v.Content {
					sources = append(sources, l.deref(s))
				}
			} else {
				sources = append(sources, v)
			}
			continue
		}
		explicit = append(explicit, pair{k, v})
	}
	if len(sources) == 0 {
		return explicit
	}
	have := map[string]bool{}
	for _, p := range explicit {
		have[p.key.Value] = true
	}
	for _, s := range sources {
		if s == nil || s.Kind != yaml.MappingNode || depth >= maxNesting {
			if s != nil && !isNull(s) {
				l.problem(s, "", "a merge key (<<) must refer to a mapping")
			}
			continue
		}
		for _, p := range l.pairsDepth(s, depth+1) {
			if !have[p.key.Value] {
				have[p.key.Value] = true
				merged = append(merged, p)
			}
		}
	}
	return append(explicit, merged...)
}

// describe says what a node is, for "expected X, got Y" messages. The value
// itself is shown only when it did not come from an environment variable:
// those are often secrets.
func (l *loader) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "got a mapping"
	case yaml.SequenceNode:
		return "got a list"
	}
	if name, ok := l.envRef[n]; ok {
		return "got the value of environment variable " + name
	}
	what := "a string"
	switch n.ShortTag() {
	case "!!int":
		what = "an integer"
	case "!!float":
		what = "a number"
	case "!!bool":
		what = "a boolean"
	case "!!null":
		return "got nothing (null)"
	}
	v := n.Value
	if len(v) > 60 {
		v = v[:57] + "..."
	}
	return fmt.Sprintf("got %s (%q)", what, v)
}

// visit accounts for one decoded node and refuses to go on once the file has
// proved too deep or too large (usually a recursive or exploding alias).
func (l *loader) visit(n *yaml.Node, path string) bool {
	if l.tooDeep {
		return false
	}
	l.budget--
	if l.budget < 0 || l.depth > maxNesting {
		l.tooDeep = true
		l.problem(n, path, "the document is nested too deeply or expands to too many values (recursive or exploding YAML aliases?)")
		return false
	}
	return true
}

// enter resolves aliases in n and accounts for descending into it. It returns
// nil when decoding must not go on: the file is too deep or too large, or an
// alias refers to a node that contains it (yaml.v3 parses "&a [*a]" into a
// cyclic tree). leave undoes the bookkeeping.
func (l *loader) enter(n *yaml.Node, path string) (_ *yaml.Node, leave func()) {
	var target *yaml.Node
	if n != nil && n.Kind == yaml.AliasNode {
		target = l.deref(n)
		if target != nil && l.active[target] {
			l.problem(n, path, fmt.Sprintf("alias *%s refers to a value that contains it", n.Value))
			return nil, nil
		}
	} else {
		target = n
	}
	if target == nil || !l.visit(target, path) {
		return nil, nil
	}
	l.depth++
	// Mark the node while it is being decoded; an alias back to it
	// would loop forever.
	marked := !l.active[target]
	l.active[target] = true
	return target, func() {
		l.depth--
		if marked {
			delete(l.active, target)
		}
	}
}

// toAny converts a node to plain Go values for free-form maps: string, int,
// float64, bool, nil, []any and map[string]any.
func (l *loader) toAny(n *yaml.Node, path string) any {
	n, leave := l.enter(n, path)
	if n == nil {
		return nil
	}
	defer leave()
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			out = append(out, l.toAny(c, indexPath(path, i)))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for _, p := range l.pairs(n) {
			if p.key.Kind != yaml.ScalarNode {
				l.problem(p.key, path, "keys must be plain strings")
				continue
			}
			out[p.key.Value] = l.toAny(p.val, joinPath(path, p.key.Value))
		}
		return out
	case yaml.ScalarNode:
		if _, fromEnv := l.envRef[n]; fromEnv {
			return n.Value
		}
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!int":
			var i int
			if n.Decode(&i) == nil {
				return i
			}
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		}
		// Strings, and timestamps, binary or custom tags as written.
		return n.Value
	}
	return nil
}

// --- typed decoding -------------------------------------------------------

// decodeField decodes one key of a mapping into the matching field of struct
// value sv, recording the feature the key belongs to.
func (l *loader) decodeField(key, val *yaml.Node, sv reflect.Value, path, pat string) {
	name := key.Value
	fpath, fpat := joinPath(path, name), joinPath(pat, name)
	si := l.info(sv.Type())
	f, ok := si.fields[name]
	if !ok {
		if si.extra >= 0 && l.acceptsExtra(sv.Type(), name) {
			m := sv.Field(si.extra)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			l.pos[fpath] = l.nodePos(l.deref(val))
			l.noteSet(fpat, fpath, key, val)
			if v := l.toAny(val, fpath); v != nil {
				m.SetMapIndex(reflect.ValueOf(name), reflect.ValueOf(v))
			} else {
				m.SetMapIndex(reflect.ValueOf(name), reflect.Zero(m.Type().Elem()))
			}
			return
		}
		l.problem(key, fpath, l.unknownKeyMessage(sv.Type(), name))
		return
	}
	l.noteSet(fpat, fpath, key, val)
	l.decode(val, sv.Field(f.index), fpath, fpat, f.numstr)
}

func (l *loader) decode(n *yaml.Node, v reflect.Value, path, pat string, numstr bool) {
	n, leave := l.enter(n, path)
	if n == nil {
		return
	}
	defer leave()
	l.pos[path] = l.nodePos(n)
	if name, ok := l.envRef[n]; ok {
		l.envAt[path] = name
	}
	if isNull(n) {
		l.nulls[path] = true
		return // leaves the zero value: "not set"
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
			if err := u.UnmarshalYAML(n); err != nil {
				msg := err.Error()
				if n.Kind == yaml.ScalarNode {
					msg += "; " + l.describe(n)
				}
				l.problem(n, path, msg)
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		l.decode(n, nv.Elem(), path, pat, numstr)
		v.Set(nv)
	case reflect.Struct:
		l.decodeStruct(n, v, path, pat)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.problem(n, path, "expected a list, "+l.describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			l.decode(c, s.Index(i), indexPath(path, i), pat, false)
		}
		v.Set(s)
	case reflect.Map:
		l.decodeMap(n, v, path, pat)
	case reflect.Interface:
		if x := l.toAny(n, path); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		l.decodeString(n, v, path)
	case reflect.Bool:
		l.decodeBool(n, v, path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		l.decodeInt(n, v, path, numstr)
	case reflect.Float32, reflect.Float64:
		l.decodeFloat(n, v, path, numstr)
	default:
		// Every Config field has one of the kinds above; a new kind needs
		// code here, and this message makes the omission obvious in tests.
		l.problem(n, path, "internal error: cannot decode into "+v.Type().String())
	}
}

func (l *loader) decodeStruct(n *yaml.Node, v reflect.Value, path, pat string) {
	if n.Kind != yaml.MappingNode {
		l.problem(n, path, "expected a mapping, "+l.describe(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for _, p := range l.pairs(n) {
		if p.key.Kind != yaml.ScalarNode {
			l.problem(p.key, path, "keys must be plain strings")
			continue
		}
		if first, dup := seen[p.key.Value]; dup {
			l.problem(p.key, joinPath(path, p.key.Value), fmt.Sprintf("set twice (first at line %d)", first.Line))
			continue
		}
		seen[p.key.Value] = p.key
		l.decodeField(p.key, p.val, v, path, pat)
	}
}

func (l *loader) decodeMap(n *yaml.Node, v reflect.Value, path, pat string) {
	if n.Kind != yaml.MappingNode {
		l.problem(n, path, "expected a mapping, "+l.describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for _, p := range l.pairs(n) {
		if p.key.Kind != yaml.ScalarNode {
			l.problem(p.key, path, "keys must be plain strings")
			continue
		}
		k := p.key.Value
		kpath := joinPath(path, k)
		if first, dup := seen[k]; dup {
			l.problem(p.key, kpath, fmt.Sprintf("set twice (first at line %d)", first.Line))
			continue
		}
		seen[k] = p.key
		ev := reflect.New(v.Type().Elem()).Elem()
		l.decode(p.val, ev, kpath, pat, false)
		m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

func (l *loader) decodeString(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		l.problem(n, path, "expected a string, "+l.describe(n))
		return
	}
	if n.ShortTag() == "!!bool" {
		// PyYAML would hand LiteLLM a bool here too; quoting is almost
		// certainly what was meant ("no" as a country code, "on" as a word).
		l.problem(n, path, "expected a string, "+l.describe(n)+"; quote it if you mean the text")
		return
	}
	// Numbers and dates are taken as written: api_version: 2024-06-01 and
	// model_name: 4 mean the text.
	v.SetString(n.Value)
}

func (l *loader) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				v.SetBool(b)
				return
			}
		case "!!str":
			// PyYAML (YAML 1.1) reads yes/no/on/off as booleans, so LiteLLM
			// configs use them; env values also come as "1"/"0".
			_, fromEnv := l.envRef[n]
			switch strings.ToLower(strings.TrimSpace(n.Value)) {
			case "yes", "on":
				v.SetBool(true)
				return
			case "no", "off":
				v.SetBool(false)
				return
			case "true", "1":
				if fromEnv {
					v.SetBool(true)
					return
				}
			case "false", "0":
				if fromEnv {
					v.SetBool(false)
					return
				}
			}
		}
	}
	l.problem(n, path, "expected true or false, "+l.describe(n))
}

func (l *loader) decodeInt(n *yaml.Node, v reflect.Value, path string, numstr bool) {
	if n.Kind != yaml.ScalarNode {
		l.problem(n, path, "expected an integer, "+l.describe(n))
		return
	}
	var i int64
	switch _, fromEnv := l.envRef[n]; {
	case n.ShortTag() == "!!int":
		if n.Decode(&i) != nil {
			l.problem(n, path, "integer out of range, "+l.describe(n))
			return
		}
	case n.ShortTag() == "!!float":
		var f float64
		if n.Decode(&f) != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			l.problem(n, path, "expected an integer, "+l.describe(n))
			return
		}
		i = int64(f) // 1e6 is a common way to write a token limit
	case n.ShortTag() == "!!str" && (fromEnv || numstr):
		parsed, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64)
		if err != nil {
			l.problem(n, path, "expected an integer, "+l.describe(n))
			return
		}
		i = parsed
	default:
		l.problem(n, path, "expected an integer, "+l.describe(n))
		return
	}
	if v.OverflowInt(i) {
		l.problem(n, path, "integer out of range, "+l.describe(n))
		return
	}
	v.SetInt(i)
}

func (l *loader) decodeFloat(n *yaml.Node, v reflect.Value, path string, numstr bool) {
	if n.Kind != yaml.ScalarNode {
		l.problem(n, path, "expected a number, "+l.describe(n))
		return
	}
	var f float64
	switch _, fromEnv := l.envRef[n]; {
	case n.ShortTag() == "!!int" || n.ShortTag() == "!!float":
		if n.Decode(&f) != nil {
			l.problem(n, path, "expected a number, "+l.describe(n))
			return
		}
	case n.ShortTag() == "!!str" && (fromEnv || numstr):
		parsed, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
		if err != nil {
			l.problem(n, path, "expected a number, "+l.describe(n))
			return
		}
		f = parsed
	default:
		l.problem(n, path, "expected a number, "+l.describe(n))
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		l.problem(n, path, "expected a finite number, "+l.describe(n))
		return
	}
	v.SetFloat(f)
}

// --- feature warnings -----------------------------------------------------

// noteSet records that the config sets the key whose pattern is pat, when the
// features table lists it as not implemented. Empty values (null, false, "",
// [] and {}) do not count: they ask for nothing Switchboard lacks.
func (l *loader) noteSet(pat, path string, key, val *yaml.Node) {
	if implemented, known := l.features[pat]; !known || implemented || l.isEmptyValue(val) {
		return
	}
	if rec, ok := l.set[pat]; ok {
		rec.count++
		return
	}
	p := l.nodePos(key)
	l.set[pat] = &setRecord{path: path, file: p.file, line: p.line, count: 1}
	l.setOrder = append(l.setOrder, pat)
}

func (l *loader) isEmptyValue(n *yaml.Node) bool {
	n = l.deref(n)
	if n == nil || isNull(n) {
		return true
	}
	switch n.Kind {
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		if n.ShortTag() == "!!bool" {
			var b bool
			return n.Decode(&b) == nil && !b
		}
		return n.Value == "" && n.ShortTag() == "!!str"
	}
	return false
}

func (l *loader) flushFeatureWarnings() {
	for _, pat := range l.setOrder {
		rec := l.set[pat]
		msg := "parsed but not implemented yet; it has no effect"
		if !strings.Contains(pat, ".") {
			msg = "section is parsed but not implemented yet; it has no effect"
		}
		if rec.count > 1 {
			msg += fmt.Sprintf(" (set in %d model_list entries)", rec.count)
		}
		l.warnAt(position{file: rec.file, line: rec.line}, rec.path, msg)
	}
	l.setOrder, l.set = nil, map[string]*setRecord{}
}
