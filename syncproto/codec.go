package syncproto

import (
	"encoding/json"
	"reflect"
	"unicode/utf8"

	"wardsync/workflow"
)

// Decode parses one frame of either direction and checks it against the
// protocol. Every error is a *workflow.Rejection: PROTOCOL_ERROR for a frame
// that breaks the protocol's shape (size, JSON, type, fields, version,
// counts, seq order), VALIDATION_FAILED with Field set for a member whose
// value is out of bounds.
func Decode(data []byte) (Frame, error) {
	f, err := decode(data, false)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeFromClient is Decode for the server: it also refuses the frames only
// a server may send.
func DecodeFromClient(data []byte) (Frame, error) {
	return decodeFrom(data, true)
}

// DecodeFromServer is Decode for the workstation: it also refuses the frames
// only a client may send, and a changes frame keeps where the members of
// its rows lie (Changes.RowMembers).
func DecodeFromServer(data []byte) (Frame, error) {
	return decodeFrom(data, false)
}

func decodeFrom(data []byte, client bool) (Frame, error) {
	f, err := decode(data, !client)
	if err != nil {
		return nil, err
	}
	if f.fromClient() != client {
		if client {
			return nil, workflow.Reject(workflow.CodeProtocolError, "%s is a server frame; a client may not send it", f.FrameType())
		}
		return nil, workflow.Reject(workflow.CodeProtocolError, "%s is a client frame; a server may not send it", f.FrameType())
	}
	return f, nil
}

// decode decodes a frame; index asks a changes frame to keep its rows'
// members.
func decode(data []byte, index bool) (Frame, *workflow.Rejection) {
	if len(data) > MaxFrameBytes {
		return nil, workflow.Reject(workflow.CodeProtocolError, "frame of %d bytes exceeds the 1 MiB limit", len(data))
	}
	// Bad bytes would reach string fields as they are and leave any JSON
	// encoder as U+FFFD: the frame would not mean one thing.
	if !utf8.Valid(data) {
		return nil, workflow.Reject(workflow.CodeProtocolError, "frame is not valid UTF-8")
	}
	root, rows, err := scanFrameIndexed(data, index)
	if err != nil {
		return nil, err
	}
	typ, err := frameType(data, root)
	if err != nil {
		return nil, err
	}
	fs, ok := frameSpecs[typ]
	if !ok {
		return nil, workflow.Reject(workflow.CodeProtocolError, "unknown frame type %s", quoteString(clip(typ)))
	}
	check := schemaCheck{data: data, frame: typ}
	f := fs.new()
	if err := check.object(fs.spec, root, loc{}, reflect.ValueOf(f).Elem()); err != nil {
		return nil, err
	}
	v := validator{frame: typ}
	f.validate(&v)
	if v.err != nil {
		return nil, v.err
	}
	if c, ok := f.(*Changes); ok && index {
		c.indexRows(data, root, rows)
	}
	return f, nil
}

func frameType(data []byte, root node) (string, *workflow.Rejection) {
	for _, m := range root.members {
		if string(m.name) != "type" {
			continue
		}
		if m.val.kind != kindString {
			return "", workflow.Reject(workflow.CodeProtocolError, "frame \"type\" must be a string, not %s", m.val.kind)
		}
		var typ string
		if err := json.Unmarshal(data[m.val.start:m.val.end], &typ); err != nil {
			return "", workflow.Reject(workflow.CodeProtocolError, "frame \"type\" is not a valid string")
		}
		return typ, nil
	}
	return "", workflow.Reject(workflow.CodeProtocolError, "frame has no \"type\"")
}

// Encode checks f against the same rules Decode applies and returns its
// wire form, "type" first. A frame the peer would refuse is never returned.
func Encode(f Frame) ([]byte, error) {
	if f == nil || reflect.ValueOf(f).IsNil() {
		return nil, workflow.Reject(workflow.CodeProtocolError, "cannot encode a nil frame")
	}
	v := validator{frame: f.FrameType(), checkRaw: true}
	f.validate(&v)
	if v.err != nil {
		return nil, v.err
	}
	var out []byte
	var err error
	if c, ok := f.(*Changes); ok {
		out, err = c.encodeChanges() // its rows are checked above
	} else {
		out, err = f.MarshalJSON()
	}
	if err != nil {
		return nil, workflow.Reject(workflow.CodeProtocolError, "%s frame: %v", f.FrameType(), err)
	}
	if len(out) > MaxFrameBytes {
		return nil, workflow.Reject(workflow.CodeProtocolError, "frame of %d bytes exceeds the 1 MiB limit", len(out))
	}
	return out, nil
}

// ErrorFrame turns err into the error frame that answers the request
// requestID. A *workflow.Rejection keeps its code and message; anything else
// becomes INTERNAL with a generic message, because an internal error's text
// (SQL, file paths) is for the server's log, not for the ward.
func ErrorFrame(requestID string, err error, fatal bool) *Error {
	f := &Error{RequestID: requestID, Code: workflow.CodeInternal, Message: "internal server error", Fatal: fatal}
	if r, ok := workflow.AsRejection(err); ok && r != nil && validCode(r.Code) && r.Message != "" {
		f.Code, f.Message = r.Code, r.Message
	}
	// An error frame must always be sendable, even when the request it
	// answers carried a malformed id.
	var v validator
	v.requestID(requestID, true)
	if v.err != nil {
		f.RequestID = ""
	}
	return f
}

// Rejection turns a received error frame back into the error type the rest
// of wardsync uses.
func (f *Error) Rejection() *workflow.Rejection {
	return &workflow.Rejection{Code: f.Code, Message: f.Message}
}

// PeekRequestID returns the requestId of a frame that Decode refused, when
// one can be read, so that the error frame still answers the request.
// It returns "" when there is none.
func PeekRequestID(data []byte) string {
	if len(data) > MaxFrameBytes || !utf8.Valid(data) {
		return ""
	}
	root, err := scanFrame(data)
	if err != nil {
		return ""
	}
	for _, m := range root.members {
		if string(m.name) != "requestId" || m.val.kind != kindString {
			continue
		}
		var id string
		if json.Unmarshal(data[m.val.start:m.val.end], &id) != nil {
			return ""
		}
		var v validator
		v.requestID(id, false)
		if v.err != nil {
			return ""
		}
		return id
	}
	return ""
}
