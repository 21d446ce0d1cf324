package tokens

import "testing"

func TestCountUsesTheModelsEncoding(t *testing.T) {
	// Reference counts from OpenAI's tiktoken.
	cases := []struct {
		model, text string
		want        int
	}{
		{"gpt-3.5-turbo", "tiktoken is great!", 6},
		{"gpt-4", "Hello, world!", 4},
		{"openai/gpt-4o", "Hello, world!", 4},
		{"gpt-4o-mini", "", 0},
		{"claude-sonnet-4", "hello world", 2}, // an estimate under cl100k
	}
	for _, c := range cases {
		if got := Count(c.model, c.text); got != c.want {
			t.Errorf("Count(%q, %q) = %d, want %d", c.model, c.text, got, c.want)
		}
	}
	if codecFor("azure/gpt-4o-2024-08-06").GetName() != "o200k_base" || codecFor("gpt-4-turbo").GetName() != "cl100k_base" {
		t.Error("encoding choice")
	}
}

func TestPromptCountsMessagesWithOpenAIFraming(t *testing.T) {
	// 3 (reply priming) + 3 (message) + "user" 1 + "hello world" 2.
	if got := Prompt("gpt-4o", []byte(`{"model":"x","messages":[{"role":"user","content":"hello world"}]}`)); got != 9 {
		t.Errorf("one message: %d, want 9", got)
	}
	two := `{"messages":[{"role":"system","content":"hello world"},{"role":"user","name":"bob","content":[{"type":"text","text":"hello world"}]}]}`
	// 3 + (3+1+2) + (3+1+2 + 1+1 for the name)
	if got := Prompt("gpt-4o", []byte(two)); got != 17 {
		t.Errorf("two messages: %d, want 17", got)
	}
	if got := Prompt("gpt-3.5-turbo-instruct", []byte(`{"prompt":["hello world","hello world"]}`)); got != 4 {
		t.Errorf("completion prompt: %d, want 4", got)
	}
	if got := Prompt("gpt-4o", []byte(`not json at all`)); got != 4 {
		t.Errorf("undecodable body: %d, want bytes/4 = 4", got)
	}
}

func BenchmarkCount1KB(b *testing.B) {
	text := ""
	for len(text) < 1024 {
		text += "The quick brown fox jumps over the lazy dog. "
	}
	Count("gpt-4o", text)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Count("gpt-4o", text)
	}
}
