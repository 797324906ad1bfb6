// SPDX-License-Identifier: MIT
//
// A Go program that makes the three side effects a supervisor must gate,
// for tests/e2e/supervise.sh (the same steps and output as
// static_sidefx.c):
//
//	sidefx WAITFILE OUTFILE PORT CHILD [ARGS...]
//
// Go's runtime makes its system calls itself: a preload sees none of them.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"time"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: sidefx WAITFILE OUTFILE PORT CHILD [ARGS...]")
		os.Exit(2)
	}
	if os.Args[1] != "-" {
		for i := 0; i < 1000; i++ {
			if _, err := os.Stat(os.Args[1]); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.WriteFile(os.Args[2], []byte("written by sidefx\n"), 0644); err != nil {
		fmt.Printf("write error: %v\n", err)
	} else {
		fmt.Println("write ok")
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+os.Args[3])
	if err == nil {
		_, err = c.Write([]byte("hello from sidefx\n"))
		c.Close()
	}
	if err != nil {
		fmt.Printf("connect error: %v\n", err)
	} else {
		fmt.Println("connect ok")
	}
	out, err := exec.Command(os.Args[4], os.Args[5:]...).Output()
	if err != nil {
		fmt.Printf("exec error: %v\n", err)
	} else {
		fmt.Printf("exec ok: %s", out)
	}
}
