package transcoder

import "google.golang.org/protobuf/reflect/protoreflect"

// httpBodyName is the message that carries an arbitrary HTTP body in place
// of JSON: raw bytes plus their content type.
const httpBodyName protoreflect.FullName = "google.api.HttpBody"

// httpBodyFields are the fields of a google.api.HttpBody message, resolved
// once per snapshot from the schema's own descriptor of it.
type httpBodyFields struct {
	contentType protoreflect.FieldDescriptor
	data        protoreflect.FieldDescriptor
}

// httpBodyFieldsOf returns the HttpBody fields of md, or nil if md is not
// google.api.HttpBody.
func httpBodyFieldsOf(md protoreflect.MessageDescriptor) *httpBodyFields {
	if md == nil || md.FullName() != httpBodyName {
		return nil
	}
	f := &httpBodyFields{
		contentType: md.Fields().ByName("content_type"),
		data:        md.Fields().ByName("data"),
	}
	if f.contentType == nil || f.data == nil {
		return nil
	}
	return f
}

// set stores a raw request body and its content type in an HttpBody.
func (f *httpBodyFields) set(msg protoreflect.Message, contentType string, data []byte) {
	if contentType != "" {
		msg.Set(f.contentType, protoreflect.ValueOfString(contentType))
	}
	if len(data) > 0 {
		msg.Set(f.data, protoreflect.ValueOfBytes(data))
	}
}

// get returns the content type and bytes an HttpBody carries.
func (f *httpBodyFields) get(msg protoreflect.Message) (contentType string, data []byte) {
	return msg.Get(f.contentType).String(), msg.Get(f.data).Bytes()
}
