package gen

import (
	"go/types"

	"github.com/dave/jennifer/jen"
)

// renderable returns "" when typ can render t, or why not.
func (g *generator) renderable(t types.Type) string {
	switch t := t.(type) {
	case *types.Basic:
		if t.Kind() == types.UnsafePointer || t.Info()&types.IsUntyped != 0 {
			return "unsafe or untyped"
		}
		return ""
	case *types.Named:
		return g.renderableObj(t.Obj(), t.TypeArgs())
	case *types.Alias:
		return g.renderableObj(t.Obj(), t.TypeArgs())
	case *types.Pointer:
		return g.renderable(t.Elem())
	case *types.Slice:
		return g.renderable(t.Elem())
	case *types.Array:
		return g.renderable(t.Elem())
	case *types.Chan:
		return g.renderable(t.Elem())
	case *types.Map:
		if m := g.renderable(t.Key()); m != "" {
			return m
		}
		return g.renderable(t.Elem())
	case *types.Signature:
		if t.Variadic() || t.TypeParams().Len() > 0 {
			return "a variadic or generic func type"
		}
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for i := 0; i < tup.Len(); i++ {
				if m := g.renderable(tup.At(i).Type()); m != "" {
					return m
				}
			}
		}
		return ""
	case *types.Interface:
		if t.Empty() {
			return ""
		}
		return "a non-empty interface literal; give it a name"
	case *types.Struct:
		if t.NumFields() == 0 {
			return ""
		}
		return "an anonymous struct; give it a name"
	}
	return "unsupported type"
}

func (g *generator) renderableObj(obj *types.TypeName, args *types.TypeList) string {
	if obj.Pkg() != nil && obj.Pkg() != g.pkg.Types && !obj.Exported() {
		return "unexported type of another package"
	}
	for i := 0; i < args.Len(); i++ {
		if m := g.renderable(args.At(i)); m != "" {
			return m
		}
	}
	return ""
}

// typ renders t, qualifying names of other packages (jennifer adds the
// imports). Aliases are kept, so sdk.Result[K, V] stays sdk.Result.
func (g *generator) typ(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Basic:
		return jen.Id(t.Name())
	case *types.Named:
		return g.typeName(t.Obj(), t.TypeArgs())
	case *types.Alias:
		return g.typeName(t.Obj(), t.TypeArgs())
	case *types.Pointer:
		return jen.Op("*").Add(g.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(g.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(g.typ(t.Elem()))
	case *types.Map:
		return jen.Map(g.typ(t.Key())).Add(g.typ(t.Elem()))
	case *types.Chan:
		switch t.Dir() {
		case types.SendOnly:
			return jen.Chan().Op("<-").Add(g.typ(t.Elem()))
		case types.RecvOnly:
			return jen.Op("<-").Chan().Add(g.typ(t.Elem()))
		}
		return jen.Chan().Add(g.typ(t.Elem()))
	case *types.Signature:
		var ps, rs []jen.Code
		for i := 0; i < t.Params().Len(); i++ {
			ps = append(ps, g.typ(t.Params().At(i).Type()))
		}
		for i := 0; i < t.Results().Len(); i++ {
			rs = append(rs, g.typ(t.Results().At(i).Type()))
		}
		s := jen.Func().Params(ps...)
		switch len(rs) {
		case 0:
		case 1:
			s = s.Add(rs[0])
		default:
			s = s.Parens(jen.List(rs...))
		}
		return s
	case *types.Interface:
		return jen.Any()
	case *types.Struct:
		return jen.Struct()
	}
	return jen.Id(t.String())
}

func (g *generator) typeName(obj *types.TypeName, args *types.TypeList) *jen.Statement {
	var s *jen.Statement
	if obj.Pkg() == nil {
		s = jen.Id(obj.Name())
	} else {
		s = jen.Qual(obj.Pkg().Path(), obj.Name())
	}
	if args.Len() > 0 {
		var as []jen.Code
		for i := 0; i < args.Len(); i++ {
			as = append(as, g.typ(args.At(i)))
		}
		s = s.Types(as...)
	}
	return s
}
