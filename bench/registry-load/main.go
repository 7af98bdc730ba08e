// registry-load: a load generator for bench/registry.sh, written for this
// benchmark (standard library only). It drives a registry over plain HTTP
// with keep-alive connections and does no client-side work in the timed
// part beyond moving bytes (digests are computed beforehand), so that the
// server, not the client, is what is measured.
//
//	registry-load small BASE WORKERS PER
//	    WORKERS goroutines each push PER distinct 4 KiB blobs (POST, then
//	    PUT ?digest= with the body), then pull them back; prints
//	    "push/s pull/s failures".
//	registry-load big BASE CONC FILE
//	    CONC goroutines each push one distinct blob made of FILE's bytes
//	    after a 16-byte unique prefix (POST, PUT ?digest= streaming it),
//	    all at once; then CONC goroutines GET all of them at once, each
//	    body read to the end and its length checked; prints
//	    "push_MB/s pull_MB/s failures" (MB = 10^6 bytes, bytes moved by
//	    all clients / wall time of the phase).
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var client *http.Client

func newClient(conns int) {
	tr := &http.Transport{
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns * 2,
		// Large socket-facing buffers: fewer syscalls on the client side.
		WriteBufferSize:    1 << 20,
		ReadBufferSize:     1 << 20,
		DisableCompression: true,
	}
	client = &http.Client{Transport: tr, Timeout: 300 * time.Second}
}

func dig(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// push uploads body (length n, digest d) to repo: POST, then one PUT.
func push(base, repo, d string, body func() io.Reader, n int64) error {
	resp, err := client.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		return fmt.Errorf("POST: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = base + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest("PUT", loc+sep+"digest="+d, body())
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		return fmt.Errorf("PUT: %d", resp.StatusCode)
	}
	return nil
}

// get reads blob d of repo to the end into a reused buffer; returns its length.
func get(base, repo, d string, buf []byte) (int64, error) {
	resp, err := client.Get(base + "/v2/" + repo + "/blobs/" + d)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if resp.StatusCode != 200 {
		return n, fmt.Errorf("GET: %d", resp.StatusCode)
	}
	return n, nil
}

func parallel(n int, f func(i int) error) (time.Duration, int64) {
	var fails int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := f(i); err != nil {
				atomic.AddInt64(&fails, 1)
				fmt.Fprintln(os.Stderr, err)
			}
		}(i)
	}
	wg.Wait()
	return time.Since(t0), fails
}

func small(base string, workers, per int) {
	newClient(workers)
	blobs := make([][][]byte, workers)
	digs := make([][]string, workers)
	for w := range blobs {
		for i := 0; i < per; i++ {
			b := make([]byte, 4096)
			rand.Read(b)
			blobs[w] = append(blobs[w], b)
			digs[w] = append(digs[w], dig(b))
		}
	}
	repo := func(w int) string { return fmt.Sprintf("load/w%d", w%4) }
	tPush, f1 := parallel(workers, func(w int) error {
		for i, b := range blobs[w] {
			b := b
			if err := push(base, repo(w), digs[w][i], func() io.Reader { return bytes.NewReader(b) }, int64(len(b))); err != nil {
				return err
			}
		}
		return nil
	})
	tPull, f2 := parallel(workers, func(w int) error {
		for i, b := range blobs[w] {
			resp, err := client.Get(base + "/v2/" + repo(w) + "/blobs/" + digs[w][i])
			if err != nil {
				return err
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, b) {
				return fmt.Errorf("GET: %d", resp.StatusCode)
			}
		}
		return nil
	})
	total := float64(workers * per)
	fmt.Printf("%.0f %.0f %d\n", total/tPush.Seconds(), total/tPull.Seconds(), f1+f2)
}

func big(base string, conc int, file string) {
	newClient(conc)
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	prefixes := make([][]byte, conc)
	digs := make([]string, conc)
	for i := range prefixes {
		p := make([]byte, 16)
		rand.Read(p)
		prefixes[i] = p
		digs[i] = dig(p, data)
	}
	size := int64(len(data) + 16)
	tPush, f1 := parallel(conc, func(i int) error {
		return push(base, "load/big", digs[i], func() io.Reader {
			return io.MultiReader(bytes.NewReader(prefixes[i]), bytes.NewReader(data))
		}, size)
	})
	tPull, f2 := parallel(conc, func(i int) error {
		buf := make([]byte, 1<<20)
		n, err := get(base, "load/big", digs[i], buf)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("GET: %d bytes, want %d", n, size)
		}
		return nil
	})
	mb := float64(size*int64(conc)) / 1e6
	fmt.Printf("%.0f %.0f %d\n", mb/tPush.Seconds(), mb/tPull.Seconds(), f1+f2)
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: registry-load small BASE WORKERS PER | big BASE CONC FILE")
		os.Exit(2)
	}
	a, _ := strconv.Atoi(os.Args[3])
	switch os.Args[1] {
	case "small":
		b, _ := strconv.Atoi(os.Args[4])
		small(os.Args[2], a, b)
	case "big":
		big(os.Args[2], a, os.Args[4])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
