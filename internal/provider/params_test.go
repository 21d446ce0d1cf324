package provider

import (
	"encoding/json"
	"testing"
)

func TestSortParams(t *testing.T) {
	kind := func(name string) ParamKind {
		switch name {
		case "temperature":
			return ParamTranslated
		case "top_k":
			return ParamPassthrough
		}
		return ParamUnsupported
	}
	run := func(body string, dropDeployment bool) (map[string]string, *Error) {
		c := &Call{Body: []byte(body), Deployment: &Deployment{Provider: "anthropic", DropParams: dropDeployment}}
		kept := map[string]string{}
		err := SortParams(c, kind, func(n string, v json.RawMessage) { kept[n] = string(v) })
		return kept, err
	}
	kept, err := run(`{"model":"m","messages":[],"temperature":1,"top_k":5,"metadata":{"tags":["x"]}}`, false)
	if err != nil || len(kept) != 1 || kept["top_k"] != "5" {
		t.Fatalf("kept %v err %v", kept, err)
	}
	if _, err = run(`{"model":"m","logit_bias":{"1":2}}`, false); err == nil || err.Param != "logit_bias" || err.Status != 400 {
		t.Fatalf("unsupported param: %v", err)
	}
	if _, err = run(`{"model":"m","logit_bias":null}`, false); err != nil {
		t.Fatalf("a null unsupported param is no request for it: %v", err)
	}
	if _, err = run(`{"model":"m","logit_bias":{"1":2},"drop_params":true}`, false); err != nil {
		t.Fatalf("drop_params in the request: %v", err)
	}
	if _, err = run(`{"model":"m","logit_bias":{"1":2}}`, true); err != nil {
		t.Fatalf("drop_params on the deployment: %v", err)
	}
}
