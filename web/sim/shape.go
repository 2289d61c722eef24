package sim

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// encoding/json reports an unknown field without its path and a type
// mismatch without slice indices; checkShape walks the generic value
// against the Go type first so every error names the exact field.

var (
	scenarioType    = reflect.TypeFor[Scenario]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// checkShape reports the first place where v (from a UseNumber decode)
// does not fit t: an unknown or differently cased field, or a value of the
// wrong JSON type. Null is accepted anywhere and leaves the default.
func checkShape(v any, t reflect.Type, path string) *FieldError {
	if v == nil {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return checkUnmarshaler(v, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkStruct(v, t, path)
	case reflect.Slice, reflect.Array:
		return checkList(v, t, path)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return fieldErr(path, "want an object")
		}
		for _, k := range sortedKeys(m) {
			if fe := checkShape(m[k], t.Elem(), join(path, k)); fe != nil {
				return fe
			}
		}
		return nil
	case reflect.String:
		if _, ok := v.(string); !ok {
			return fieldErr(path, "want a string")
		}
		return nil
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return fieldErr(path, "want true or false")
		}
		return nil
	}
	return checkNumber(v, t, path)
}

func checkStruct(v any, t reflect.Type, path string) *FieldError {
	m, ok := v.(map[string]any)
	if !ok {
		return fieldErr(path, "want an object")
	}
	fields := jsonFields(t)
	for _, k := range sortedKeys(m) {
		ft, ok := fields[k]
		if !ok {
			return fieldErr(join(path, k), "unknown field")
		}
		if fe := checkShape(m[k], ft, join(path, k)); fe != nil {
			return fe
		}
	}
	return nil
}

func checkList(v any, t reflect.Type, path string) *FieldError {
	l, ok := v.([]any)
	if !ok {
		return fieldErr(path, "want an array")
	}
	if t.Kind() == reflect.Array && len(l) != t.Len() {
		return fieldErr(path, "want an array of %d values, got %d", t.Len(), len(l))
	}
	for i, x := range l {
		if fe := checkShape(x, t.Elem(), path+"["+strconv.Itoa(i)+"]"); fe != nil {
			return fe
		}
	}
	return nil
}

func checkNumber(v any, t reflect.Type, path string) *FieldError {
	n, ok := v.(json.Number)
	if !ok {
		return fieldErr(path, "want a number")
	}
	switch t.Kind() {
	case reflect.Float64, reflect.Float32:
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return fieldErr(path, "want a finite number")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			return fieldErr(path, "want a whole number")
		}
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			return fieldErr(path, "want a non-negative whole number")
		}
	default:
		return fieldErr(path, "unsupported field type %s", t)
	}
	return nil
}

// checkUnmarshaler lets the type's own decoder judge the value (e.g. a
// duration string) and reports its complaint at this path.
func checkUnmarshaler(v any, t reflect.Type, path string) *FieldError {
	b, err := json.Marshal(v)
	if err != nil {
		return fieldErr(path, "%v", err)
	}
	if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
		return fieldErr(path, "%v", err)
	}
	return nil
}

// jsonFields maps the exact JSON names of t's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
