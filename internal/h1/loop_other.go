//go:build !linux

package h1

import (
	"errors"
	"time"
)

// LoopSupported reports whether NewLoop works on this system.
const LoopSupported = false

// DefaultYieldMin is LoopConfig.YieldMin's default.
const DefaultYieldMin = 32

// Loop is Linux only (epoll); elsewhere NewLoop fails and callers use Do.
type Loop struct{}

// LoopConfig configures a Loop.
type LoopConfig struct {
	MaxConnsPerHost int
	MaxDialsPerHost int
	Park            bool
	YieldMin        int
	Done            func(tag any, res *Result, err error)
}

// NewLoop fails: the event loop needs Linux.
func (c *Client) NewLoop(LoopConfig) (*Loop, error) {
	return nil, errors.New("h1: the event loop needs Linux (epoll)")
}

func (l *Loop) Send(Target, *Request, Options, any) {}
func (l *Loop) Wait(time.Duration) error            { return nil }
func (l *Loop) Wake()                               {}
func (l *Loop) Close()                              {}
func (l *Loop) InFlight() int                       { return 0 }
func (l *Loop) YieldAt(time.Time)                   {}
