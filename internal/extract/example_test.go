package extract_test

import (
	"fmt"
	"net/http"

	"github.com/surgeload/surge/internal/extract"
)

func Example() {
	token, err := extract.Compile(extract.Spec{JSON: "$.token"})
	if err != nil {
		panic(err)
	}
	session, _ := extract.Compile(extract.Spec{Cookie: "session"})
	ok, _ := extract.CompileCheck(extract.CheckSpec{JSON: "$.user.id", Matches: "^[0-9]+$"})

	r := &extract.Response{
		Status: 200,
		Header: http.Header{"Set-Cookie": {"session=s-42; Path=/; HttpOnly"}},
		Body:   []byte(`{"token": "t-1", "user": {"id": 7}}`),
	}
	vals, err := extract.ExtractAll(r, []*extract.Extractor{token, session}, nil)
	fmt.Println(vals, err)
	fmt.Println(ok.Name(), ok.Test(r))

	_, err = extract.Compile(extract.Spec{JSON: "$.items[*].id"})
	fmt.Println(err)
	// Output:
	// [t-1 s-42] <nil>
	// $.user.id matches "^[0-9]+$" <nil>
	// json path "$.items[*].id": wildcards are not supported (at offset 8)
}
