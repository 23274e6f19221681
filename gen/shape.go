package gen

import (
	"go/types"
	"strconv"
	"strings"
)

// shape returns the shape of record s as weir gen sees it: for s and every
// struct of the package it reaches (breadth first, in field order), one
// line per field, "Struct.Field Type tags". The generated registration
// carries it, and sdk.RegisterRecord compares it with the shape of the
// compiled type (sdk/shape.go computes the same lines with reflect), so
// that a record changed without rerunning go generate refuses to run
// instead of losing fields. It is deterministic: names, types and tags
// only, no paths.
func (g *generator) shape(s *structInfo) []string {
	lines := []string{}
	seen := map[*structInfo]bool{s: true}
	queue := []*structInfo{s}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		for _, f := range st.fields {
			line := st.obj.Name() + "." + f.name + " " + shapeType(f.typ)
			if f.json != "" {
				line += " json:" + strconv.Quote(f.json)
			}
			if f.hasWeir {
				line += " weir:" + strconv.Quote(f.weir)
			}
			lines = append(lines, line)
			g.reachStructs(f.typ, func(r *structInfo) {
				if !seen[r] {
					seen[r] = true
					queue = append(queue, r)
				}
			})
		}
	}
	return lines
}

// reachStructs calls visit for each struct of the package that t refers
// to, in order (map keys before values), as sdk's reachStructs does.
func (g *generator) reachStructs(t types.Type, visit func(*structInfo)) {
	t = types.Unalias(t)
	if isTime(t) {
		return
	}
	if s := g.structOf(t); s != nil {
		visit(s)
		return
	}
	switch u := t.Underlying().(type) {
	case *types.Slice:
		g.reachStructs(u.Elem(), visit)
	case *types.Pointer:
		g.reachStructs(u.Elem(), visit)
	case *types.Map:
		g.reachStructs(u.Key(), visit)
		g.reachStructs(u.Elem(), visit)
	}
}

// shapeType renders t as sdk's shapeType renders the compiled type: basic
// types by kind, named types as package name and type name, a named
// non-struct type with its underlying type in parentheses.
func shapeType(t types.Type) string {
	t = types.Unalias(t)
	if isTime(t) {
		return "time.Time"
	}
	if n, ok := t.(*types.Named); ok {
		name := n.Obj().Name()
		if pkg := n.Obj().Pkg(); pkg != nil {
			name = pkg.Name() + "." + name
		}
		if _, ok := n.Underlying().(*types.Struct); ok {
			return name
		}
		return name + "(" + shapeType(n.Underlying()) + ")"
	}
	switch u := t.(type) {
	case *types.Basic:
		return types.Typ[u.Kind()].Name()
	case *types.Slice:
		return "[]" + shapeType(u.Elem())
	case *types.Pointer:
		return "*" + shapeType(u.Elem())
	case *types.Map:
		return "map[" + shapeType(u.Key()) + "]" + shapeType(u.Elem())
	}
	// Not reached for checked fields.
	return strings.ReplaceAll(types.TypeString(t, func(p *types.Package) string { return p.Name() }), " ", "")
}
