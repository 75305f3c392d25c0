package httpx

import (
	"errors"

	"github.com/clinicops/clinicops/pkg/validation"
)

// ErrorMap maps a service's domain errors to problems, so that each port
// declares its mapping once instead of writing a switch per handler. Rules
// are tried in the order they were added; the first match wins. Matching is
// by errors.Is and errors.As, never by type assertion, so wrapped errors
// (fmt.Errorf("...: %w", err)) map too. A map is built once at start-up and
// is then safe for concurrent use.
type ErrorMap struct {
	rules []func(error) *Problem
}

// NewErrorMap returns a map that already knows the platform's errors: a
// *Problem passes as is and a *validation.Error becomes a 422 naming its
// fields.
func NewErrorMap() *ErrorMap {
	m := &ErrorMap{}
	As(m, func(p *Problem) *Problem { return p })
	As(m, ValidationProblem)
	return m
}

// Is maps every error that errors.Is target to a copy of p.
func (m *ErrorMap) Is(target error, p *Problem) *ErrorMap {
	m.rules = append(m.rules, func(err error) *Problem {
		if errors.Is(err, target) {
			return p.clone()
		}
		return nil
	})
	return m
}

// As maps every error that errors.As finds an E in to f(e). It is a
// function, not a method, because Go methods cannot have type parameters. f
// may return nil to decline, and the next rule is tried.
func As[E error](m *ErrorMap, f func(E) *Problem) *ErrorMap {
	m.rules = append(m.rules, func(err error) *Problem {
		var target E
		if errors.As(err, &target) {
			return f(target)
		}
		return nil
	})
	return m
}

// Problem returns the problem err maps to, or nil.
func (m *ErrorMap) Problem(err error) *Problem {
	if err == nil {
		return nil
	}
	for _, rule := range m.rules {
		if p := rule(err); p != nil {
			return p
		}
	}
	return nil
}

// Map returns the problem err maps to, or err itself when no rule matches
// (a bug: the HandlerFunc logs it and answers 500). nil stays nil.
func (m *ErrorMap) Map(err error) error {
	if p := m.Problem(err); p != nil {
		return p
	}
	return err
}

// ValidationProblem is the 422 for a domain validation error, naming every
// rejected field.
func ValidationProblem(ve *validation.Error) *Problem {
	fields := make([]FieldError, len(ve.Fields))
	for i, f := range ve.Fields {
		fields[i] = FieldError{Field: f.Field, Message: f.Message}
	}
	return Unprocessable("the request is not valid", fields...)
}

// clone copies p so that a problem registered once can be handed out to
// many requests.
func (p *Problem) clone() *Problem {
	out := *p
	out.Errors = append([]FieldError(nil), p.Errors...)
	if p.Extensions != nil {
		out.Extensions = make(map[string]any, len(p.Extensions))
		for k, v := range p.Extensions {
			out.Extensions[k] = v
		}
	}
	if p.header != nil {
		out.header = p.header.Clone()
	}
	return &out
}
