package template_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/surgeload/surge/internal/template"
)

func ExampleParse() {
	t, err := template.Parse(`{"id": {{seq}}, "key": {{zipf 1.1 1000000}}, "color": "{{choice red green blue}}"}`)
	if err != nil {
		panic(err)
	}
	const seed = 42
	var buf []byte
	for i := uint64(0); i < 3; i++ {
		buf = t.Append(buf[:0], seed, i, nil)
		fmt.Println(string(buf))
	}
	// Output:
	// {"id": 0, "key": 1330, "color": "red"}
	// {"id": 1, "key": 615, "color": "green"}
	// {"id": 2, "key": 8935, "color": "red"}
}

// A literal "{{" is written as the quoted-string action {{"{{"}}; "}}" and
// single braces need no escaping.
func ExampleParse_escape() {
	t, err := template.Parse(`{"tpl": "{{"{{"}}name}}", "n": {{seq}}}`)
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Render(1, 7, nil))
	// Output:
	// {"tpl": "{{name}}", "n": 7}
}

// Parse errors carry the byte offset of the problem, for a caller to turn into
// a line and column.
func ExampleError() {
	src := "/items/{{zipf 0 1000}}"
	_, err := template.Parse(src)
	var e *template.Error
	if errors.As(err, &e) {
		fmt.Println(src)
		fmt.Printf("%s^ %s\n", strings.Repeat(" ", e.Offset), e.Msg)
	}
	// Output:
	// /items/{{zipf 0 1000}}
	//               ^ zipf: exponent S must be greater than 0, got 0
}

// Data rows are used in turn: arrival i reads row i mod rows, and every action
// of one arrival that names the file reads the same row.
func ExampleLoadCSV() {
	users, err := template.LoadCSV("users.csv", strings.NewReader("id,token\n17,abc\n42,xyz\n"), 0)
	if err != nil {
		panic(err)
	}
	data := template.Tables{"users.csv": users}
	t, err := template.Parse("/users/{{csv users.csv id}}?token={{csv users.csv token}}")
	if err != nil {
		panic(err)
	}
	if err := t.CheckData(data); err != nil {
		panic(err)
	}
	for i := uint64(0); i < 3; i++ {
		fmt.Println(t.Render(1, i, data))
	}
	// Output:
	// /users/17?token=abc
	// /users/42?token=xyz
	// /users/17?token=abc
}

func ExampleNewMix() {
	mix, err := template.NewMix([]float64{90, 10}) // read-item, write-item
	if err != nil {
		panic(err)
	}
	var counts [2]int
	for i := uint64(0); i < 100000; i++ {
		counts[mix.Pick(42, i)]++
	}
	fmt.Println(counts[0] > 89000 && counts[0] < 91000, counts[0]+counts[1])
	fmt.Printf("%.2f %.2f\n", mix.Probability(0), mix.Probability(1))
	// Output:
	// true 100000
	// 0.90 0.10
}
