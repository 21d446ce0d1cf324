package fake

import "testing"

func TestJSONTrue(t *testing.T) {
	for _, c := range []struct {
		body, key string
		want      bool
	}{
		{`{"stream":true}`, `"stream"`, true},
		{`{"stream" :	 true}`, `"stream"`, true},
		{`{"stream":false,"stream_options":{"include_usage":true}}`, `"stream"`, false},
		{`{"stream_options":{"include_usage":true},"stream": true}`, `"stream"`, true},
		{`{"stream_options":{"include_usage":true},"stream": true}`, `"include_usage"`, true},
		{`{"model":"stream"}`, `"stream"`, false},
		{`{"model":"x"}`, `"stream"`, false},
	} {
		if got := jsonTrue([]byte(c.body), []byte(c.key)); got != c.want {
			t.Errorf("jsonTrue(%s, %s) = %v", c.body, c.key, got)
		}
	}
}

func TestEventReaderSmallReads(t *testing.T) {
	r := &eventReader{events: eventsWithUsage}
	var got []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if string(got) != string(StreamBody(true)) {
		t.Fatal("reassembled stream differs")
	}
	if len(eventsWithUsage) != StreamEventsWithUsage+1 || len(eventsNoUsage) != StreamEventsWithoutUsage+1 {
		t.Fatal("event counts do not match the documented constants")
	}
}
