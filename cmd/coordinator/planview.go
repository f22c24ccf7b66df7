package main

import (
	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/reporters"
)

// planView is the table reporters.WritePlan prints for a plan of the
// planner: reporters takes its own plain Plan, so that its API names no
// internal type.
func planView(p capacity.Plan) reporters.Plan {
	v := reporters.Plan{Steps: make([]reporters.PlanStep, len(p.Steps)), Notes: p.Notes}
	for i, s := range p.Steps {
		v.Steps[i] = reporters.PlanStep{Label: s.Label, Working: s.Working, Value: s.Value, Unit: s.Unit}
	}
	return v
}
