package gen

import (
	"encoding/json"
	"fmt"
	"go/types"
	"sort"
	"strings"

	"github.com/dave/jennifer/jen"
)

func cq(name string) *jen.Statement { return jen.Qual(codecPath, name) }

func ex(c jen.Code) *jen.Statement { return jen.Add(c) }

func v(suffix string, d int) string { return fmt.Sprintf("%s%d", suffix, d) }

// setDst is dst = call.
func setDst(call jen.Code) jen.Code { return jen.Id("dst").Op("=").Add(call) }

// appendRaw is dst = append(dst, `text`...).
func appendRaw(text string) jen.Code {
	lit := jen.Lit(text)
	if !strings.ContainsAny(text, "`\r") {
		lit = jen.Op("`" + text + "`")
	}
	return setDst(jen.Append(jen.Id("dst"), lit.Op("...")))
}

// rawLit is a string literal, in backquotes when it can be.
func rawLit(text string) *jen.Statement {
	if strings.ContainsAny(text, "`\r\n") {
		return jen.Lit(text)
	}
	return jen.Op("`" + text + "`")
}

func appendByte(c byte) jen.Code {
	return setDst(jen.Append(jen.Id("dst"), jen.LitRune(rune(c))))
}

// basicOps names the codec functions of one basic kind.
type basicOps struct {
	binKind, jsonKind, hashKind types.BasicKind
	bin, read                   string // codec.AppendX, Reader.X
	json, jsonRead              string // codec.AppendJSONX, JSONReader.X
	bits                        int    // bit size argument of JSON numbers
	hash                        string // codec.HashX
}

func basicOf(b *types.Basic) basicOps {
	k := b.Kind()
	switch {
	case k == types.Bool:
		return basicOps{types.Bool, types.Bool, types.Bool, "AppendBool", "Bool", "AppendJSONBool", "Bool", 0, "HashBool"}
	case k == types.String:
		return basicOps{types.String, types.String, types.String, "AppendString", "String", "AppendJSONString", "String", 0, "HashString"}
	case k == types.Float32:
		return basicOps{types.Float32, types.Float64, types.Float64, "AppendFloat32", "Float32", "AppendJSONFloat", "Float", 32, "HashFloat64"}
	case k == types.Float64:
		return basicOps{types.Float64, types.Float64, types.Float64, "AppendFloat64", "Float64", "AppendJSONFloat", "Float", 64, "HashFloat64"}
	case b.Info()&types.IsUnsigned != 0:
		return basicOps{types.Uint64, types.Uint64, types.Uint64, "AppendUint", "Uint", "AppendJSONUint", "Uint", bitsOf(k), "HashUint64"}
	default:
		return basicOps{types.Int64, types.Int64, types.Int64, "AppendInt", "Int", "AppendJSONInt", "Int", bitsOf(k), "HashInt"}
	}
}

func bitsOf(k types.BasicKind) int {
	switch k {
	case types.Int8, types.Uint8:
		return 8
	case types.Int16, types.Uint16:
		return 16
	case types.Int32, types.Uint32:
		return 32
	}
	return 64
}

// to converts x of type t to the basic kind k, if they differ.
func to(t types.Type, k types.BasicKind, x jen.Code) jen.Code {
	if types.Identical(t, types.Typ[k]) {
		return x
	}
	return jen.Id(types.Typ[k].Name()).Call(x)
}

// from converts x of basic kind k to t, if they differ.
func (g *generator) from(t types.Type, k types.BasicKind, x jen.Code) jen.Code {
	if types.Identical(t, types.Typ[k]) {
		return x
	}
	return g.typ(t).Call(x)
}

var byteSlice = types.NewSlice(types.Typ[types.Uint8])

func isBytes(t types.Type) bool {
	s, ok := t.Underlying().(*types.Slice)
	return ok && types.Identical(s.Elem(), types.Typ[types.Uint8])
}

func (g *generator) toBytes(t types.Type, x jen.Code) jen.Code {
	if types.Identical(t, byteSlice) {
		return x
	}
	return jen.Index().Byte().Call(x)
}

func (g *generator) fromBytes(t types.Type, x jen.Code) jen.Code {
	if types.Identical(t, byteSlice) {
		return x
	}
	return g.typ(t).Call(x)
}

func (g *generator) structOf(t types.Type) *structInfo {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return nil
	}
	return g.structs[n.Obj()]
}

// deref renders (*p), remembering p so that addr can undo it.
func (g *generator) deref(p jen.Code) jen.Code {
	st := jen.Parens(jen.Op("*").Add(p))
	if g.derefs == nil {
		g.derefs = map[*jen.Statement]jen.Code{}
	}
	g.derefs[st] = p
	return st
}

// star renders *p for the variable p, as an lvalue.
func (g *generator) star(p string) jen.Code {
	st := jen.Op("*").Id(p)
	if g.derefs == nil {
		g.derefs = map[*jen.Statement]jen.Code{}
	}
	g.derefs[st] = jen.Id(p)
	return st
}

// addr renders &x, or p for x made by deref(p).
func (g *generator) addr(x jen.Code) jen.Code {
	if st, ok := x.(*jen.Statement); ok {
		if p, ok := g.derefs[st]; ok {
			return p
		}
	}
	return jen.Op("&").Add(x)
}

// fn is the name of a generated function for struct s.
func fn(s *structInfo, what string) string { return "weir" + s.obj.Name() + what }

// ---- binary ----

// appendBin returns statements appending the binary form of x (of type t).
func (g *generator) appendBin(t types.Type, x jen.Code, d int) []jen.Code {
	if isTime(t) {
		return []jen.Code{setDst(cq("AppendTime").Call(jen.Id("dst"), x))}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		o := basicOf(u)
		return []jen.Code{setDst(cq(o.bin).Call(jen.Id("dst"), to(t, o.binKind, x)))}
	case *types.Slice:
		if isBytes(t) {
			return []jen.Code{setDst(cq("AppendBytes").Call(jen.Id("dst"), g.toBytes(t, x)))}
		}
		i := v("i", d)
		return []jen.Code{
			setDst(cq("AppendLen").Call(jen.Id("dst"), jen.Len(x), ex(x).Op("==").Nil())),
			jen.For(jen.Id(i).Op(":=").Range().Add(x)).Block(g.appendBin(u.Elem(), ex(x).Index(jen.Id(i)), d+1)...),
		}
	case *types.Map:
		k, e := v("k", d), v("e", d)
		body := append(g.appendBin(u.Key(), jen.Id(k), d+1), jen.Id(e).Op(":=").Add(x).Index(jen.Id(k)))
		body = append(body, g.appendBin(u.Elem(), jen.Id(e), d+1)...)
		return []jen.Code{
			setDst(cq("AppendLen").Call(jen.Id("dst"), jen.Len(x), ex(x).Op("==").Nil())),
			jen.For(jen.List(jen.Id("_"), jen.Id(k)).Op(":=").Range().Add(cq("SortedKeys").Call(x))).Block(body...),
		}
	case *types.Pointer:
		return []jen.Code{
			jen.If(ex(x).Op("==").Nil()).Block(appendByte(0)).Else().Block(
				append([]jen.Code{appendByte(1)}, g.appendBin(u.Elem(), g.deref(x), d+1)...)...),
		}
	case *types.Struct:
		s := g.structOf(t)
		return []jen.Code{setDst(jen.Id(fn(s, "AppendBinary")).Call(jen.Id("dst"), g.addr(x)))}
	}
	panic("gen: appendBin of unchecked type " + t.String())
}

// readBin returns statements reading a value of type t into lv.
func (g *generator) readBin(t types.Type, lv jen.Code, d int) []jen.Code {
	r := jen.Id("r")
	if isTime(t) {
		return []jen.Code{ex(lv).Op("=").Add(r.Clone().Dot("Time").Call())}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		o := basicOf(u)
		return []jen.Code{ex(lv).Op("=").Add(g.from(t, o.binKind, jen.Id("r").Dot(o.read).Call()))}
	case *types.Slice:
		if isBytes(t) {
			return []jen.Code{ex(lv).Op("=").Add(g.fromBytes(t, jen.Id("r").Dot("Bytes").Call()))}
		}
		n, s, i := v("n", d), v("s", d), v("i", d)
		return []jen.Code{
			jen.If(jen.Id(n).Op(":=").Id("r").Dot("Len").Call(), jen.Id(n).Op("<").Lit(0)).Block(
				ex(lv).Op("=").Nil(),
			).Else().Block(
				jen.Id(s).Op(":=").Make(g.typ(t), jen.Id(n)),
				jen.For(jen.Id(i).Op(":=").Range().Id(s)).Block(g.readBin(u.Elem(), jen.Id(s).Index(jen.Id(i)), d+1)...),
				ex(lv).Op("=").Id(s),
			),
		}
	case *types.Map:
		n, m, i, k, e := v("n", d), v("m", d), v("i", d), v("k", d), v("e", d)
		body := []jen.Code{jen.Var().Id(k).Add(g.typ(u.Key()))}
		body = append(body, g.readBin(u.Key(), jen.Id(k), d+1)...)
		body = append(body, jen.Var().Id(e).Add(g.typ(u.Elem())))
		body = append(body, g.readBin(u.Elem(), jen.Id(e), d+1)...)
		body = append(body, jen.Id(m).Index(jen.Id(k)).Op("=").Id(e))
		return []jen.Code{
			jen.If(jen.Id(n).Op(":=").Id("r").Dot("Len").Call(), jen.Id(n).Op("<").Lit(0)).Block(
				ex(lv).Op("=").Nil(),
			).Else().Block(
				jen.Id(m).Op(":=").Make(g.typ(t), jen.Id(n)),
				jen.For(
					jen.Id(i).Op(":=").Lit(0),
					jen.Id(i).Op("<").Id(n).Op("&&").Id("r").Dot("Err").Call().Op("==").Nil(),
					jen.Id(i).Op("++"),
				).Block(body...),
				ex(lv).Op("=").Id(m),
			),
		}
	case *types.Pointer:
		p := v("p", d)
		return []jen.Code{
			jen.If(jen.Id("r").Dot("Bool").Call()).Block(
				append(append([]jen.Code{jen.Id(p).Op(":=").New(g.typ(u.Elem()))},
					g.readBin(u.Elem(), g.star(p), d+1)...),
					ex(lv).Op("=").Id(p))...,
			).Else().Block(ex(lv).Op("=").Nil()),
		}
	case *types.Struct:
		s := g.structOf(t)
		return []jen.Code{jen.Id(fn(s, "ReadBinary")).Call(jen.Id("r"), g.addr(lv))}
	}
	panic("gen: readBin of unchecked type " + t.String())
}

// ---- JSON ----

func (g *generator) appendJSON(t types.Type, x jen.Code, d int) []jen.Code {
	if isTime(t) {
		return []jen.Code{setDst(cq("AppendJSONTime").Call(jen.Id("dst"), x))}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		o := basicOf(u)
		args := []jen.Code{jen.Id("dst"), to(t, o.jsonKind, x)}
		if o.json == "AppendJSONFloat" {
			args = append(args, jen.Lit(o.bits))
		}
		return []jen.Code{setDst(cq(o.json).Call(args...))}
	case *types.Slice:
		if isBytes(t) {
			return []jen.Code{setDst(cq("AppendJSONBytes").Call(jen.Id("dst"), g.toBytes(t, x)))}
		}
		i := v("i", d)
		body := []jen.Code{jen.If(jen.Id(i).Op(">").Lit(0)).Block(appendByte(','))}
		body = append(body, g.appendJSON(u.Elem(), ex(x).Index(jen.Id(i)), d+1)...)
		return []jen.Code{
			jen.If(ex(x).Op("==").Nil()).Block(appendRaw("null")).Else().Block(
				appendByte('['),
				jen.For(jen.Id(i).Op(":=").Range().Add(x)).Block(body...),
				appendByte(']'),
			),
		}
	case *types.Map:
		i, k, e := v("i", d), v("k", d), v("e", d)
		body := []jen.Code{jen.If(jen.Id(i).Op(">").Lit(0)).Block(appendByte(','))}
		body = append(body, g.appendJSONKey(u.Key(), jen.Id(k)), appendByte(':'))
		body = append(body, jen.Id(e).Op(":=").Add(x).Index(jen.Id(k)))
		body = append(body, g.appendJSON(u.Elem(), jen.Id(e), d+1)...)
		return []jen.Code{
			jen.If(ex(x).Op("==").Nil()).Block(appendRaw("null")).Else().Block(
				appendByte('{'),
				jen.For(jen.List(jen.Id(i), jen.Id(k)).Op(":=").Range().Add(cq("SortedKeys").Call(x))).Block(body...),
				appendByte('}'),
			),
		}
	case *types.Pointer:
		return []jen.Code{
			jen.If(ex(x).Op("==").Nil()).Block(appendRaw("null")).Else().Block(
				g.appendJSON(u.Elem(), g.deref(x), d+1)...),
		}
	case *types.Struct:
		s := g.structOf(t)
		return []jen.Code{setDst(jen.Id(fn(s, "AppendJSON")).Call(jen.Id("dst"), g.addr(x)))}
	}
	panic("gen: appendJSON of unchecked type " + t.String())
}

func (g *generator) appendJSONKey(t types.Type, x jen.Code) jen.Code {
	b := t.Underlying().(*types.Basic)
	switch o := basicOf(b); o.json {
	case "AppendJSONString":
		return setDst(cq("AppendJSONString").Call(jen.Id("dst"), to(t, types.String, x)))
	case "AppendJSONInt":
		return setDst(cq("AppendJSONIntKey").Call(jen.Id("dst"), to(t, types.Int64, x)))
	case "AppendJSONUint":
		return setDst(cq("AppendJSONUintKey").Call(jen.Id("dst"), to(t, types.Uint64, x)))
	default:
		return setDst(cq("AppendJSONFloatKey").Call(jen.Id("dst"), to(t, types.Float64, x), jen.Lit(o.bits)))
	}
}

func (g *generator) readJSON(t types.Type, lv jen.Code, d int) []jen.Code {
	dr := func() *jen.Statement { return jen.Id("d") }
	if isTime(t) {
		return []jen.Code{ex(lv).Op("=").Add(dr().Dot("Time").Call())}
	}
	if isDuration(t) {
		return []jen.Code{ex(lv).Op("=").Add(dr().Dot("Duration").Call())}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		o := basicOf(u)
		var args []jen.Code
		if o.bits > 0 {
			args = append(args, jen.Lit(o.bits))
		}
		return []jen.Code{ex(lv).Op("=").Add(g.from(t, o.jsonKind, dr().Dot(o.jsonRead).Call(args...)))}
	case *types.Slice:
		if isBytes(t) {
			return []jen.Code{ex(lv).Op("=").Add(g.fromBytes(t, dr().Dot("Bytes").Call()))}
		}
		s, e := v("s", d), v("e", d)
		body := []jen.Code{jen.Var().Id(e).Add(g.typ(u.Elem()))}
		body = append(body, g.readJSON(u.Elem(), jen.Id(e), d+1)...)
		body = append(body, jen.Id(s).Op("=").Append(jen.Id(s), jen.Id(e)))
		return []jen.Code{
			jen.If(dr().Dot("BeginArray").Call()).Block(
				jen.Id(s).Op(":=").Make(g.typ(t), jen.Lit(0)),
				jen.For(dr().Dot("NextElem").Call()).Block(body...),
				ex(lv).Op("=").Id(s),
			).Else().Block(ex(lv).Op("=").Nil()),
		}
	case *types.Map:
		m, k, e := v("m", d), v("k", d), v("e", d)
		body := []jen.Code{jen.Id(k).Op(":=").Add(g.readJSONKey(u.Key()))}
		body = append(body, jen.Var().Id(e).Add(g.typ(u.Elem())))
		body = append(body, g.readJSON(u.Elem(), jen.Id(e), d+1)...)
		body = append(body, jen.Id(m).Index(jen.Id(k)).Op("=").Id(e))
		return []jen.Code{
			jen.If(dr().Dot("BeginObject").Call()).Block(
				jen.Id(m).Op(":=").Make(g.typ(t)),
				jen.For(dr().Dot("NextKey").Call()).Block(body...),
				ex(lv).Op("=").Id(m),
			).Else().Block(ex(lv).Op("=").Nil()),
		}
	case *types.Pointer:
		p := v("p", d)
		return []jen.Code{
			jen.If(dr().Dot("Null").Call()).Block(ex(lv).Op("=").Nil()).Else().Block(
				append(append([]jen.Code{jen.Id(p).Op(":=").New(g.typ(u.Elem()))},
					g.readJSON(u.Elem(), g.star(p), d+1)...),
					ex(lv).Op("=").Id(p))...,
			),
		}
	case *types.Struct:
		s := g.structOf(t)
		return []jen.Code{jen.Id(fn(s, "ReadJSON")).Call(jen.Id("d"), g.addr(lv))}
	}
	panic("gen: readJSON of unchecked type " + t.String())
}

func (g *generator) readJSONKey(t types.Type) jen.Code {
	b := t.Underlying().(*types.Basic)
	switch o := basicOf(b); o.json {
	case "AppendJSONString":
		return g.from(t, types.String, jen.Id("d").Dot("KeyString").Call())
	case "AppendJSONInt":
		return g.from(t, types.Int64, jen.Id("d").Dot("KeyInt").Call(jen.Lit(o.bits)))
	case "AppendJSONUint":
		return g.from(t, types.Uint64, jen.Id("d").Dot("KeyUint").Call(jen.Lit(o.bits)))
	default:
		return g.from(t, types.Float64, jen.Id("d").Dot("KeyFloat").Call(jen.Lit(o.bits)))
	}
}

// ---- hash ----

// hash returns statements folding the hash of x into the variable h.
func (g *generator) hash(t types.Type, x jen.Code, h string, d int) []jen.Code {
	combine := func(c jen.Code) jen.Code {
		return jen.Id(h).Op("=").Add(cq("Combine").Call(jen.Id(h), c))
	}
	if isTime(t) {
		return []jen.Code{combine(cq("HashTime").Call(x))}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		o := basicOf(u)
		return []jen.Code{combine(cq(o.hash).Call(to(t, o.hashKind, x)))}
	case *types.Slice:
		if isBytes(t) {
			return []jen.Code{combine(cq("HashBytes").Call(g.toBytes(t, x)))}
		}
		i := v("i", d)
		return []jen.Code{
			combine(cq("HashUint64").Call(jen.Uint64().Call(jen.Len(x)))),
			jen.For(jen.Id(i).Op(":=").Range().Add(x)).Block(g.hash(u.Elem(), ex(x).Index(jen.Id(i)), h, d+1)...),
		}
	case *types.Map:
		// Order-independent: the sum of the entry hashes.
		m, k, e, he := v("m", d), v("k", d), v("e", d), v("h", d)
		body := []jen.Code{jen.Id(he).Op(":=").Uint64().Call(jen.Lit(0))}
		body = append(body, g.hash(u.Key(), jen.Id(k), he, d+1)...)
		body = append(body, g.hash(u.Elem(), jen.Id(e), he, d+1)...)
		body = append(body, jen.Id(m).Op("+=").Id(he))
		return []jen.Code{jen.Block(
			jen.Var().Id(m).Uint64(),
			jen.For(jen.List(jen.Id(k), jen.Id(e)).Op(":=").Range().Add(x)).Block(body...),
			combine(cq("HashUint64").Call(jen.Id(m).Op("+").Uint64().Call(jen.Len(x)))),
		)}
	case *types.Pointer:
		return []jen.Code{
			jen.If(ex(x).Op("==").Nil()).Block(combine(jen.Lit(0))).Else().Block(
				append([]jen.Code{combine(jen.Lit(1))}, g.hash(u.Elem(), g.deref(x), h, d+1)...)...),
		}
	case *types.Struct:
		s := g.structOf(t)
		return []jen.Code{combine(jen.Id(fn(s, "Hash")).Call(g.addr(x)))}
	}
	panic("gen: hash of unchecked type " + t.String())
}

// ---- per struct ----

func (g *generator) structFuncs(s *structInfo) {
	T := jen.Id(s.obj.Name())
	vT := jen.Id("v").Op("*").Add(T.Clone())
	field := func(fi *fieldInfo) *jen.Statement { return jen.Id("v").Dot(fi.name) }

	// Binary.
	var body []jen.Code
	for _, fi := range s.fields {
		body = append(body, g.appendBin(fi.typ, field(fi), 0)...)
	}
	body = append(body, jen.Return(jen.Id("dst")))
	g.decl().Id(g.name(s.obj.Name(), fn(s, "AppendBinary"))).Params(jen.Id("dst").Index().Byte(), vT.Clone()).Index().Byte().Block(body...)

	body = nil
	for _, fi := range s.fields {
		body = append(body, g.readBin(fi.typ, field(fi), 0)...)
	}
	g.decl().Id(g.name(s.obj.Name(), fn(s, "ReadBinary"))).Params(jen.Id("r").Op("*").Qual(codecPath, "Reader"), vT.Clone()).Block(body...)

	// JSON.
	body = nil
	first := true
	for _, fi := range s.fields {
		if fi.json == "" {
			continue
		}
		key, _ := json.Marshal(fi.json)
		prefix := ","
		if first {
			prefix = "{"
			first = false
		}
		body = append(body, appendRaw(prefix+string(key)+":"))
		body = append(body, g.appendJSON(fi.typ, field(fi), 0)...)
	}
	if first {
		body = append(body, appendRaw("{}"))
	} else {
		body = append(body, appendByte('}'))
	}
	body = append(body, jen.Return(jen.Id("dst")))
	g.decl().Id(g.name(s.obj.Name(), fn(s, "AppendJSON"))).Params(jen.Id("dst").Index().Byte(), vT.Clone()).Index().Byte().Block(body...)

	seen := ""
	if s.eventTime != nil {
		seen = "seen" + s.eventTime.name
	}
	var cases []jen.Code
	for _, fi := range s.fields {
		if fi.json == "" {
			continue
		}
		var stmts []jen.Code
		if fi == s.eventTime {
			stmts = []jen.Code{jen.If(jen.Op("!").Id("d").Dot("Null").Call()).Block(
				append(g.readJSON(fi.typ, field(fi), 0), jen.Id(seen).Op("=").True())...)}
		} else {
			stmts = g.readJSON(fi.typ, field(fi), 0)
		}
		cases = append(cases, jen.Case(jen.Lit(fi.json)).Block(stmts...))
	}
	cases = append(cases, jen.Default().Block(jen.Id("d").Dot("Skip").Call()))
	body = []jen.Code{jen.Op("*").Id("v").Op("=").Add(T.Clone()).Values()}
	if seen != "" {
		body = append(body,
			jen.If(jen.Op("!").Id("d").Dot("BeginObject").Call()).Block(jen.Return(jen.False())),
			jen.Id(seen).Op(":=").False())
	} else {
		body = append(body, jen.If(jen.Op("!").Id("d").Dot("BeginObject").Call()).Block(jen.Return()))
	}
	body = append(body, jen.For(jen.Id("d").Dot("NextKey").Call()).Block(jen.Switch(jen.Id("d").Dot("Key").Call()).Block(cases...)))
	readJSON := g.decl().Id(g.name(s.obj.Name(), fn(s, "ReadJSON"))).Params(jen.Id("d").Op("*").Qual(codecPath, "JSONReader"), vT.Clone())
	if seen != "" {
		body = append(body, jen.Return(jen.Id(seen)))
		readJSON = readJSON.Bool()
	}
	readJSON.Block(body...)

	// Hash.
	body = []jen.Code{jen.Id("h").Op(":=").Uint64().Call(jen.Lit(0))}
	for _, fi := range s.fields {
		body = append(body, g.hash(fi.typ, field(fi), "h", 0)...)
	}
	body = append(body, jen.Return(jen.Id("h")))
	g.decl().Id(g.name(s.obj.Name(), fn(s, "Hash"))).Params(vT.Clone()).Uint64().Block(body...)
}

// recordFuncs adds the top-level functions of a record: decoders over a
// byte slice and the event-time accessor.
func (g *generator) recordFuncs(s *structInfo) {
	T := jen.Id(s.obj.Name())
	vT := jen.Id("v").Op("*").Add(T.Clone())
	g.decl().Id(g.name(s.obj.Name(), fn(s, "DecodeBinary"))).Params(jen.Id("src").Index().Byte(), vT.Clone()).Params(jen.Int(), jen.Error()).Block(
		jen.Id("r").Op(":=").Qual(codecPath, "NewReader").Call(jen.Id("src")),
		jen.Id(fn(s, "ReadBinary")).Call(jen.Op("&").Id("r"), jen.Id("v")),
		jen.Return(jen.Id("r").Dot("Done").Call()),
	)
	read := jen.Id(fn(s, "ReadJSON")).Call(jen.Op("&").Id("d"), jen.Id("v"))
	var check jen.Code = read
	if s.eventTime != nil {
		check = jen.If(jen.Op("!").Add(read)).Block(
			jen.Id("d").Dot("Fail").Call(jen.Lit("missing event time field " + s.eventTime.json)))
	}
	g.decl().Id(g.name(s.obj.Name(), fn(s, "DecodeJSON"))).Params(jen.Id("src").Index().Byte(), vT.Clone()).Error().Block(
		jen.Id("d").Op(":=").Qual(codecPath, "NewJSONReader").Call(jen.Id("src")),
		check,
		jen.Return(jen.Id("d").Dot("Finish").Call()),
	)
	if et := s.eventTime; et != nil {
		x := jen.Id("v").Dot(et.name)
		var body []jen.Code
		switch et.epoch {
		case "unixmilli": // every value is a time, 0 the epoch; saturates at ±∞
			body = []jen.Code{jen.Return(jen.Qual(sdkPath, "TimestampOfUnixMilli").Call(jen.Int64().Call(x)), jen.True())}
		case "unixmicro":
			body = []jen.Code{jen.Return(jen.Qual(sdkPath, "Timestamp").Call(x), jen.True())}
		default:
			body = []jen.Code{
				jen.If(x.Clone().Dot("IsZero").Call()).Block(jen.Return(jen.Lit(0), jen.False())),
				// TimestampOf saturates where UnixMicro would wrap around.
				jen.Return(jen.Qual(sdkPath, "TimestampOf").Call(x.Clone()), jen.True()),
			}
		}
		g.decl().Id(g.name(s.obj.Name(), fn(s, "EventTime"))).Params(vT.Clone()).Params(jen.Qual(sdkPath, "Timestamp"), jen.Bool()).Block(body...)
	}
}

func (g *generator) register(s *structInfo) jen.Code {
	vals := jen.Dict{
		jen.Id("Name"):         jen.Lit(g.pkg.Name + "." + s.obj.Name()),
		jen.Id("AppendBinary"): jen.Id(fn(s, "AppendBinary")),
		jen.Id("DecodeBinary"): jen.Id(fn(s, "DecodeBinary")),
		jen.Id("AppendJSON"):   jen.Id(fn(s, "AppendJSON")),
		jen.Id("DecodeJSON"):   jen.Id(fn(s, "DecodeJSON")),
		jen.Id("Hash"):         jen.Id(fn(s, "Hash")),
		jen.Id("AppendKey"):    jen.Id(fn(s, "AppendBinary")),
	}
	if s.eventTime != nil {
		vals[jen.Id("EventTime")] = jen.Id(fn(s, "EventTime"))
		vals[jen.Id("EventTimeField")] = jen.Lit(s.eventTime.json)
	}
	var shape []jen.Code
	for _, line := range g.shape(s) {
		shape = append(shape, jen.Line().Add(rawLit(line)))
	}
	vals[jen.Id("Shape")] = jen.Index().String().Values(append(shape, jen.Line())...)
	T := jen.Id(s.obj.Name())
	return jen.Qual(sdkPath, "RegisterRecord").Call(jen.Qual(sdkPath, "RecordCodec").Types(T).Values(vals))
}

// ---- kernels ----

func (g *generator) batch(t types.Type) jen.Code {
	return jen.Op("*").Qual(sdkPath, "Batch").Types(g.typ(t))
}

func (g *generator) kernels(t *transform) []jen.Code {
	in, out := jen.Id("in"), jen.Id("out")
	val := func() *jen.Statement { return jen.Id("in").Dot("Values").Index(jen.Id("i")) }
	var regs []jen.Code
	if t.kind == "filter" {
		name := g.name(t.name, "weirFilter"+t.name)
		g.decl().Id(name).Params(in.Clone().Add(g.batch(t.in)), out.Clone().Add(g.batch(t.in))).Block(
			jen.Id("times").Op(":=").Id("in").Dot("Times").Index(jen.Empty(), jen.Len(jen.Id("in").Dot("Values"))),
			jen.Id("marks").Op(":=").Id("in").Dot("Marks"),
			jen.If(jen.Len(jen.Id("marks")).Op("!=").Len(jen.Id("in").Dot("Values"))).Block(
				jen.Id("marks").Op("=").Nil(),
			),
			jen.For(jen.Id("i").Op(":=").Range().Id("in").Dot("Values")).Block(
				jen.If(jen.Id(t.name).Call(val())).Block(
					jen.Id("out").Dot("Values").Op("=").Append(jen.Id("out").Dot("Values"), val()),
					jen.Id("out").Dot("Times").Op("=").Append(jen.Id("out").Dot("Times"), jen.Id("times").Index(jen.Id("i"))),
					jen.If(jen.Id("marks").Op("!=").Nil()).Block(
						jen.Id("out").Dot("Marks").Op("=").Append(jen.Id("out").Dot("Marks"), jen.Id("marks").Index(jen.Id("i"))),
					),
				),
			),
		)
		regs = append(regs, jen.Qual(sdkPath, "RegisterFilter").Call(jen.Id(t.name),
			jen.Qual(sdkPath, "FilterKernel").Types(g.typ(t.in)).Call(jen.Id(name))))
	}
	switch t.kind {
	case "filter", "map":
		o := t.out
		if t.kind == "filter" {
			o = types.Typ[types.Bool]
		}
		name := g.name(t.name, "weirMap"+t.name)
		g.decl().Id(name).Params(in.Clone().Add(g.batch(t.in)), out.Clone().Add(g.batch(o))).Block(
			jen.For(jen.Id("i").Op(":=").Range().Id("in").Dot("Values")).Block(
				jen.Id("out").Dot("Values").Op("=").Append(jen.Id("out").Dot("Values"), jen.Id(t.name).Call(val())),
			),
			jen.Id("out").Dot("Times").Op("=").Append(jen.Id("out").Dot("Times"), jen.Id("in").Dot("Times").Op("...")),
			jen.If(jen.Len(jen.Id("in").Dot("Marks")).Op("==").Len(jen.Id("in").Dot("Values"))).Block(
				jen.Id("out").Dot("Marks").Op("=").Append(jen.Id("out").Dot("Marks"), jen.Id("in").Dot("Marks").Op("...")),
			),
		)
		regs = append(regs, jen.Qual(sdkPath, "RegisterMap").Call(jen.Id(t.name),
			jen.Qual(sdkPath, "MapKernel").Types(g.typ(t.in), g.typ(o)).Call(jen.Id(name))))
	case "flatmap":
		name := g.name(t.name, "weirFlatMap"+t.name)
		g.decl().Id(name).Params(in.Clone().Add(g.batch(t.in)), out.Clone().Add(g.batch(t.out))).Block(
			jen.Var().Id("ts").Op(",").Id("mark").Qual(sdkPath, "Timestamp"),
			jen.Id("marks").Op(":=").Id("in").Dot("Marks"),
			jen.If(jen.Len(jen.Id("marks")).Op("!=").Len(jen.Id("in").Dot("Values"))).Block(
				jen.Id("marks").Op("=").Nil(),
			),
			jen.Id("emit").Op(":=").Func().Params(jen.Id("o").Add(g.typ(t.out))).Block(
				jen.Id("out").Dot("Values").Op("=").Append(jen.Id("out").Dot("Values"), jen.Id("o")),
				jen.Id("out").Dot("Times").Op("=").Append(jen.Id("out").Dot("Times"), jen.Id("ts")),
				jen.If(jen.Id("marks").Op("!=").Nil()).Block(
					jen.Id("out").Dot("Marks").Op("=").Append(jen.Id("out").Dot("Marks"), jen.Id("mark")),
				),
			),
			jen.Id("times").Op(":=").Id("in").Dot("Times").Index(jen.Empty(), jen.Len(jen.Id("in").Dot("Values"))),
			jen.For(jen.Id("i").Op(":=").Range().Id("in").Dot("Values")).Block(
				jen.Id("ts").Op("=").Id("times").Index(jen.Id("i")),
				jen.If(jen.Id("marks").Op("!=").Nil()).Block(
					jen.Id("mark").Op("=").Id("marks").Index(jen.Id("i")),
				),
				jen.Id(t.name).Call(val(), jen.Id("emit")),
			),
		)
		regs = append(regs, jen.Qual(sdkPath, "RegisterFlatMap").Call(jen.Id(t.name),
			jen.Qual(sdkPath, "FlatMapKernel").Types(g.typ(t.in), g.typ(t.out)).Call(jen.Id(name))))
	}
	return regs
}

// name claims a generated top-level name, reporting a clash with a name
// of the package or another generated one.
func (g *generator) name(owner, name string) string {
	if g.names[name] {
		g.ec.addPos("", fmt.Sprintf("%s: generated name %s for %s is used twice; rename %s", g.pkg.PkgPath, name, owner, owner))
	} else if obj := g.pkg.Types.Scope().Lookup(name); obj != nil {
		g.errorf(obj.Pos(), "%s clashes with the generated name for %s; rename it", name, owner)
	}
	g.names[name] = true
	return name
}

// decl starts a top-level declaration; it is rendered after init in the
// order declared.
func (g *generator) decl() *jen.Statement {
	s := jen.Func()
	g.decls = append(g.decls, s)
	return s
}

// render builds the file: init first, then the codecs of each struct and
// the kernels of each transform, sorted by name.
func (g *generator) render() *jen.File {
	f := jen.NewFilePathName(g.pkg.PkgPath, g.pkg.Name)
	f.HeaderComment(header)
	scope := g.pkg.Types.Scope()
	if scope.Lookup("sdk") != nil {
		f.ImportAlias(sdkPath, "weirsdk")
	} else {
		f.ImportName(sdkPath, "sdk")
	}
	if scope.Lookup("codec") != nil {
		f.ImportAlias(codecPath, "weircodec")
	} else {
		f.ImportName(codecPath, "codec")
	}
	var regs []jen.Code
	for _, s := range g.sortedStructs() {
		if s.record {
			regs = append(regs, g.register(s))
		}
		g.structFuncs(s)
		if s.record {
			g.recordFuncs(s)
		}
	}
	sort.SliceStable(g.transforms, func(i, j int) bool { return g.transforms[i].name < g.transforms[j].name })
	for _, t := range g.transforms {
		regs = append(regs, g.kernels(t)...)
	}
	f.Func().Id("init").Params().Block(regs...)
	for _, d := range g.decls {
		f.Line()
		f.Add(d)
	}
	return f
}
