package sim

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Process metrics read from the server's /metrics to size its memory.
const (
	metricRSS   = "process_resident_memory_bytes"
	metricHeap  = "go_memstats_heap_inuse_bytes"
	metricCPU   = "process_cpu_seconds_total"
	metricStack = "go_memstats_stack_inuse_bytes"
)

// memSample is the server's memory (and CPU time so far) at one moment.
type memSample struct {
	RSS, Heap, Stack, CPU float64
}

// scrapeMemory reads the two memory gauges (administrator).
func (c *apiClient) scrapeMemory(ctx context.Context) (memSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+routeMetrics, nil)
	if err != nil {
		return memSample{}, fmt.Errorf("scrape metrics: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return memSample{}, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return memSample{}, fmt.Errorf("scrape metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return memSample{}, fmt.Errorf("scrape metrics: %w", decodeHTTPError(resp.StatusCode, b))
	}
	return parseMemory(b)
}

// parseMemory finds the unlabelled gauges in Prometheus text format.
func parseMemory(b []byte) (memSample, error) {
	var m memSample
	var found int
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != metricRSS && name != metricHeap && name != metricCPU && name != metricStack) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return m, fmt.Errorf("parse %s: %w", name, err)
		}
		switch name {
		case metricRSS:
			m.RSS = v
			found++
		case metricHeap:
			m.Heap = v
			found++
		case metricCPU:
			m.CPU = v
		case metricStack:
			m.Stack = v
		}
	}
	if found < 2 {
		return m, fmt.Errorf("parse metrics: %w: want %s and %s", errNoMetric, metricRSS, metricHeap)
	}
	return m, nil
}

// settledMemory samples the server's memory a few times and keeps the
// median of each gauge, so one garbage collection more or less does not
// swing the figure.
func (c *apiClient) settledMemory(ctx context.Context, samples int, every time.Duration) (memSample, error) {
	var rss, heap, stack []float64
	for i := range samples {
		if i > 0 {
			select {
			case <-ctx.Done():
				return memSample{}, ctx.Err()
			case <-time.After(every):
			}
		}
		m, err := c.scrapeMemory(ctx)
		if err != nil {
			return memSample{}, err
		}
		rss, heap, stack = append(rss, m.RSS), append(heap, m.Heap), append(stack, m.Stack)
	}
	return memSample{RSS: median(rss), Heap: median(heap), Stack: median(stack)}, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
