package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fibctl's --json is the API's messages as plain JSON for scripts: field
// names as in the .proto file (snake_case, stable: they are the API's), in
// field-number order; every field present, zero values included (a scalar
// as its zero, an unset message or optional field as null, a list as []);
// every integer a JSON number — protojson writes 64-bit integers as
// strings, which jq and friends then compare as text; enums by name;
// timestamps as RFC 3339, durations as Go durations ("30s").

// marshalJSON renders m; indent is "" for one line.
func marshalJSON(m proto.Message, indent string) []byte {
	var b bytes.Buffer
	writeMessage(&b, m.ProtoReflect(), indent, "")
	return b.Bytes()
}

func writeMessage(b *bytes.Buffer, m protoreflect.Message, indent, pre string) {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		sec, nsec := m.Get(m.Descriptor().Fields().ByName("seconds")).Int(), m.Get(m.Descriptor().Fields().ByName("nanos")).Int()
		writeString(b, time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano))
		return
	case "google.protobuf.Duration":
		sec, nsec := m.Get(m.Descriptor().Fields().ByName("seconds")).Int(), m.Get(m.Descriptor().Fields().ByName("nanos")).Int()
		writeString(b, (time.Duration(sec)*time.Second + time.Duration(nsec)).String())
		return
	}
	fields := m.Descriptor().Fields()
	b.WriteByte('{')
	inner := pre + indent
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if i > 0 {
			b.WriteByte(',')
		}
		newline(b, indent, inner)
		writeString(b, string(fd.Name()))
		b.WriteByte(':')
		if indent != "" {
			b.WriteByte(' ')
		}
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			b.WriteByte('[')
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				writeValue(b, fd, l.Get(j), indent, inner)
			}
			b.WriteByte(']')
		case fd.IsMap():
			mp := m.Get(fd).Map()
			keys := make([]protoreflect.MapKey, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys = append(keys, k); return true })
			slices.SortFunc(keys, func(x, y protoreflect.MapKey) int {
				return bytes.Compare([]byte(x.String()), []byte(y.String()))
			})
			b.WriteByte('{')
			for j, k := range keys {
				if j > 0 {
					b.WriteByte(',')
				}
				writeString(b, k.String())
				b.WriteByte(':')
				writeValue(b, fd.MapValue(), mp.Get(k), indent, inner)
			}
			b.WriteByte('}')
		case fd.HasPresence() && !m.Has(fd):
			b.WriteString("null")
		default:
			writeValue(b, fd, m.Get(fd), indent, inner)
		}
	}
	if fields.Len() > 0 {
		newline(b, indent, pre)
	}
	b.WriteByte('}')
}

func writeValue(b *bytes.Buffer, fd protoreflect.FieldDescriptor, v protoreflect.Value, indent, pre string) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case protoreflect.StringKind:
		writeString(b, v.String())
	case protoreflect.BytesKind:
		writeString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			writeString(b, string(ev.Name()))
		} else {
			b.WriteString(strconv.FormatInt(int64(v.Enum()), 10))
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		writeMessage(b, v.Message(), indent, pre)
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

func newline(b *bytes.Buffer, indent, pre string) {
	if indent != "" {
		b.WriteByte('\n')
		b.WriteString(pre)
	}
}
