package gen

import (
	"bytes"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/go/packages"
)

const (
	sdkPath   = "github.com/weirflow/weir/sdk"
	codecPath = "github.com/weirflow/weir/sdk/codec"
)

// generator generates the file of one package.
type generator struct {
	pkg *packages.Package
	ec  *errorCollector

	structs    map[*types.TypeName]*structInfo // records and the structs they reach
	queue      []*structInfo                   // structs whose fields are not yet checked
	transforms []*transform
	names      map[string]bool // generated top-level names
	decls      []jen.Code      // generated functions, in order
	derefs     map[*jen.Statement]jen.Code
}

// structInfo is a struct type of the package that gets codecs: a record or
// a struct reached from one.
type structInfo struct {
	obj       *types.TypeName
	st        *types.Struct
	record    bool
	fields    []*fieldInfo
	eventTime *fieldInfo
}

type fieldInfo struct {
	name    string     // Go name
	typ     types.Type // its type
	json    string     // JSON name; "" when left out of JSON
	weir    string     // the weir tag, when hasWeir
	hasWeir bool
	epoch   string // of the event-time field: "" (a time.Time), "unixmilli" or "unixmicro" (an integer)
	pos     token.Pos
}

// transform is a //weir:transform function.
type transform struct {
	name string
	kind string // "filter", "map" or "flatmap"
	in   types.Type
	out  types.Type // the output of map and flatmap
}

// generatePackage returns the content of the package's weir_gen.go, or nil
// when it has no annotations. Problems go to ec.
func generatePackage(p *packages.Package, ec *errorCollector) []byte {
	g := &generator{pkg: p, ec: ec, structs: map[*types.TypeName]*structInfo{}, names: map[string]bool{}}
	before := len(ec.errs)
	g.scan()
	for len(g.queue) > 0 {
		s := g.queue[0]
		g.queue = g.queue[1:]
		g.checkStruct(s)
	}
	if len(ec.errs) > before {
		return nil
	}
	if len(g.structs) == 0 && len(g.transforms) == 0 {
		return nil
	}
	f := g.render()
	if len(ec.errs) > before {
		return nil
	}
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		ec.addPos("", "weir gen: render "+p.PkgPath+": "+err.Error())
		return nil
	}
	return buf.Bytes()
}

func (g *generator) errorf(pos token.Pos, format string, args ...any) {
	g.ec.add(g.pkg.Fset, pos, format, args...)
}

// annotation returns the weir annotation of a doc comment ("record",
// "transform", another word for a misspelled one, or "").
func annotation(doc *ast.CommentGroup) (string, token.Pos) {
	if doc == nil {
		return "", token.NoPos
	}
	for _, c := range doc.List {
		if rest, ok := strings.CutPrefix(c.Text, "// weir:"); ok {
			// Only a known word: `// weir:"eventtime"` in prose is no annotation.
			if w, _, _ := strings.Cut(rest, " "); w == "record" || w == "transform" {
				return "space", c.Pos()
			}
		}
		if rest, ok := strings.CutPrefix(c.Text, "//weir:"); ok {
			word, _, _ := strings.Cut(rest, " ")
			return strings.TrimSpace(word), c.Pos()
		}
	}
	return "", token.NoPos
}

// scan finds the annotated declarations, in file order.
func (g *generator) scan() {
	for _, file := range g.pkg.Syntax {
		if filepath.Base(g.pkg.Fset.File(file.Pos()).Name()) == FileName {
			continue
		}
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					doc := d.Doc
					if d.Lparen.IsValid() {
						doc = nil
					}
					if ts, ok := spec.(*ast.TypeSpec); ok && ts.Doc != nil {
						doc = ts.Doc
					}
					word, pos := annotation(doc)
					switch word {
					case "":
					case "record":
						if ts, ok := spec.(*ast.TypeSpec); ok {
							g.record(ts)
						} else {
							g.errorf(pos, "//weir:record marks a %s declaration; it goes on a struct type", d.Tok)
						}
					case "transform":
						g.errorf(pos, "//weir:transform marks a %s declaration; it goes on a func", d.Tok)
					case "space":
						g.errorf(pos, "annotation with a space after //; write //weir:record, like //go:generate")
					default:
						g.errorf(pos, "unknown annotation //weir:%s; want //weir:record or //weir:transform", word)
					}
				}
			case *ast.FuncDecl:
				switch word, pos := annotation(d.Doc); word {
				case "":
				case "transform":
					g.transform(d)
				case "record":
					g.errorf(pos, "//weir:record marks func %s; it goes on a struct type", d.Name.Name)
				case "space":
					g.errorf(pos, "annotation with a space after //; write //weir:transform, like //go:generate")
				default:
					g.errorf(pos, "unknown annotation //weir:%s; want //weir:record or //weir:transform", word)
				}
			}
		}
	}
}

func (g *generator) record(ts *ast.TypeSpec) {
	obj, _ := g.pkg.TypesInfo.Defs[ts.Name].(*types.TypeName)
	switch {
	case obj == nil:
		return
	case ts.Assign.IsValid():
		g.errorf(ts.Pos(), "record %s is a type alias; mark the struct type it names", ts.Name.Name)
		return
	case ts.TypeParams != nil:
		g.errorf(ts.Pos(), "record %s is generic; records must be plain struct types", ts.Name.Name)
		return
	}
	st, ok := obj.Type().Underlying().(*types.Struct)
	if !ok {
		g.errorf(ts.Pos(), "record %s is not a struct type; //weir:record goes on a struct", ts.Name.Name)
		return
	}
	s := g.need(obj, st)
	s.record = true
}

// need registers a struct type of the package for codec generation.
func (g *generator) need(obj *types.TypeName, st *types.Struct) *structInfo {
	if s := g.structs[obj]; s != nil {
		return s
	}
	s := &structInfo{obj: obj, st: st}
	g.structs[obj] = s
	g.queue = append(g.queue, s)
	return s
}

const supported = "use bool, numbers, string, []byte, time.Time, time.Duration, structs of this package, or slices, maps and pointers of these"

// checkStruct reads the fields of s and checks their types.
func (g *generator) checkStruct(s *structInfo) {
	jsonNames := map[string]string{}
	for i := 0; i < s.st.NumFields(); i++ {
		v := s.st.Field(i)
		tag := reflect.StructTag(s.st.Tag(i))
		f := &fieldInfo{name: v.Name(), typ: v.Type(), pos: v.Pos()}
		where := s.obj.Name() + "." + v.Name()
		if v.Name() == "_" {
			continue
		}
		if v.Exported() {
			f.json = v.Name()
		}
		if j, ok := tag.Lookup("json"); ok && v.Exported() {
			name, _, _ := strings.Cut(j, ",")
			switch {
			case name == "-" && !strings.Contains(j, ","):
				f.json = ""
			case name != "":
				f.json = name
			}
		}
		if f.json != "" {
			if other, dup := jsonNames[f.json]; dup {
				g.errorf(v.Pos(), "%s: JSON name %q is also used by %s; give one a different json tag", where, f.json, other)
			}
			jsonNames[f.json] = where
		}
		if w, ok := tag.Lookup("weir"); ok {
			f.weir, f.hasWeir = w, true
			word, epoch, _ := strings.Cut(w, ",")
			switch word {
			case "eventtime":
				switch {
				case epoch != "" && epoch != "unixmilli" && epoch != "unixmicro":
					g.errorf(v.Pos(), "%s: unknown event-time unit %q; use weir:\"eventtime\" on a time.Time, or weir:\"eventtime,unixmilli\" or \"eventtime,unixmicro\" on an int64", where, epoch)
				case epoch == "" && !isTime(v.Type()):
					g.errorf(v.Pos(), "%s: weir:\"eventtime\" is on a field of type %s; it must be a time.Time (or an int64 tagged weir:\"eventtime,unixmilli\" or \"eventtime,unixmicro\")", where, g.typeString(v.Type()))
				case epoch != "" && !isEpochInt(v.Type()):
					g.errorf(v.Pos(), "%s: weir:%q is on a field of type %s; it must be an int64 (or int)", where, w, g.typeString(v.Type()))
				case !s.record:
					g.errorf(v.Pos(), "%s: weir:\"eventtime\" is on a field of %s, which is not a //weir:record", where, s.obj.Name())
				case s.eventTime != nil:
					g.errorf(v.Pos(), "%s: second weir:\"eventtime\" field (the first is %s); a record has one event time", where, s.eventTime.name)
				case f.json == "":
					g.errorf(v.Pos(), "%s: the event-time field is left out of JSON; give it a json name", where)
				default:
					f.epoch = epoch
					s.eventTime = f
				}
			default:
				g.errorf(v.Pos(), "%s: unknown weir tag %q; the only one is weir:\"eventtime\" (with ,unixmilli or ,unixmicro on an int64)", where, w)
			}
		}
		if bad := g.checkType(v.Type()); bad != "" {
			if full := g.typeString(v.Type()); !strings.HasPrefix(bad, full) && !strings.Contains(bad, full) {
				bad += " in " + full
			}
			g.errorf(v.Pos(), "%s: unsupported field type %s; %s", where, bad, supported)
			continue
		}
		s.fields = append(s.fields, f)
	}
}

func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// isEpochInt reports whether t can hold an epoch time: a signed integer
// of 64 bits (int64, int, or a type defined on them), not a time.Duration.
func isEpochInt(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && (b.Kind() == types.Int64 || b.Kind() == types.Int) && !isDuration(t)
}

func isDuration(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Duration"
}

func (g *generator) typeString(t types.Type) string {
	return types.TypeString(t, types.RelativeTo(g.pkg.Types))
}

// checkType returns "" when t can be encoded, or the unsupported part.
func (g *generator) checkType(t types.Type) string {
	if isTime(t) {
		return ""
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if u.Info()&(types.IsBoolean|types.IsInteger|types.IsFloat|types.IsString) != 0 &&
			u.Info()&types.IsComplex == 0 && u.Kind() != types.Uintptr && u.Kind() != types.UnsafePointer {
			return ""
		}
	case *types.Slice:
		return g.checkType(u.Elem())
	case *types.Map:
		if k, ok := u.Key().Underlying().(*types.Basic); !ok || k.Info()&types.IsOrdered == 0 || k.Kind() == types.Uintptr {
			return g.typeString(t) + " (map keys must be strings or numbers)"
		}
		return g.checkType(u.Elem())
	case *types.Pointer:
		return g.checkType(u.Elem())
	case *types.Struct:
		n, ok := types.Unalias(t).(*types.Named)
		switch {
		case !ok:
			return "anonymous struct " + g.typeString(t)
		case n.Obj().Pkg() != g.pkg.Types:
			return g.typeString(t) + " (a struct type of another package)"
		case n.TypeArgs().Len() > 0 || n.TypeParams().Len() > 0:
			return g.typeString(t) + " (a generic struct)"
		}
		g.need(n.Obj(), u)
		return ""
	}
	return g.typeString(t)
}

// transform reads a //weir:transform func and classifies it by signature.
func (g *generator) transform(d *ast.FuncDecl) {
	name := d.Name.Name
	if d.Recv != nil {
		g.errorf(d.Pos(), "transform %s is a method; //weir:transform goes on a top-level func", name)
		return
	}
	if d.Type.TypeParams != nil {
		g.errorf(d.Pos(), "transform %s is generic; kernels need concrete types, so write a non-generic func", name)
		return
	}
	fn, _ := g.pkg.TypesInfo.Defs[d.Name].(*types.Func)
	if fn == nil {
		return
	}
	sig := fn.Type().(*types.Signature)
	bad := func() {
		g.errorf(d.Pos(), "transform %s has signature %s; want func(I) O, func(I) bool or func(I, func(O))",
			name, strings.TrimPrefix(g.typeString(sig), "func"))
	}
	if sig.Variadic() {
		bad()
		return
	}
	params, results := sig.Params(), sig.Results()
	t := &transform{name: name}
	switch {
	case params.Len() == 1 && results.Len() == 1:
		t.in, t.out = params.At(0).Type(), results.At(0).Type()
		t.kind = "map"
		if types.Identical(t.out, types.Typ[types.Bool]) {
			t.kind = "filter"
		}
	case params.Len() == 2 && results.Len() == 0:
		emit, ok := params.At(1).Type().(*types.Signature)
		if !ok || emit.Params().Len() != 1 || emit.Results().Len() != 0 || emit.Variadic() {
			bad()
			return
		}
		t.in, t.out = params.At(0).Type(), emit.Params().At(0).Type()
		t.kind = "flatmap"
	default:
		bad()
		return
	}
	for _, x := range []types.Type{t.in, t.out} {
		if msg := g.renderable(x); msg != "" {
			g.errorf(d.Pos(), "transform %s: cannot name type %s in generated code: %s", name, g.typeString(x), msg)
			return
		}
	}
	g.transforms = append(g.transforms, t)
}

// sortedStructs returns the structs to generate codecs for, by name.
func (g *generator) sortedStructs() []*structInfo {
	out := make([]*structInfo, 0, len(g.structs))
	for _, s := range g.structs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].obj.Name() < out[j].obj.Name() })
	return out
}
