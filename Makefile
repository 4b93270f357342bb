# vpnos — see README.md.
GO        ?= go
IMAGE     ?= vpnos:latest
REVISION  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X vpnos/os/version.Commit=$(REVISION)
LAB       ?= lab/l3vpn/l3vpn.clab.yml
# Packages whose tests need root, network namespaces or Docker run with a longer timeout.
TESTFLAGS ?= -count=1 -timeout 25m

.PHONY: build test image lab lab-down bench clean setup-test setup-lab fuzz generate

build: bin/vpnos

bin/vpnos: $(shell find os cli services yang lab -name '*.go' -o -name '*.yang' 2>/dev/null) go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/vpnos ./os/cmd/vpnos

# What the tests and the lab need on this host (Debian packages, a running
# Docker engine): installed or started when missing, as root; see the script.
setup-test:
	@bash lab/host-setup.sh test

setup-lab:
	@bash lab/host-setup.sh lab

# The test command CI runs (see README). Includes the image and lab tests.
test: setup-test build image
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

# Every fuzz target runs for FUZZTIME, so that a target that fails at once
# (and so fuzzes nothing) is noticed. Longer runs: make fuzz FUZZTIME=60s.
# Go's fuzzer sometimes ends a run with "context deadline exceeded" and no
# failing input when its time is up while a worker is busy; such a run is
# tried once more. A failing input (written under testdata/fuzz) fails.
FUZZTIME ?= 3s
fuzz:
	@set -e; for d in $$(grep -rl --include='*_test.go' '^func Fuzz' os cli services yang lab | xargs -n1 dirname | sort -u); do \
	  for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$d/*_test.go); do \
	    for try in 1 2; do \
	      if out=$$($(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./$$d 2>&1); then echo "fuzz ok   ./$$d $$f"; break; fi; \
	      if [ $$try = 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	        echo "fuzz again ./$$d $$f (the fuzzer's deadline, no failing input)"; continue; fi; \
	      echo "fuzz FAIL ./$$d $$f"; echo "$$out" | tail -40; exit 1; \
	    done; \
	  done; \
	done

image: bin/vpnos
	docker build -q -t $(IMAGE) . >/dev/null
	@docker image inspect $(IMAGE) --format 'built {{index .RepoTags 0}}: {{.Size}} bytes'

lab: setup-lab bin/vpnos
	./bin/vpnos lab up $(LAB)

lab-down: bin/vpnos
	./bin/vpnos lab down $(LAB)

# Each benchmark reports its figures beside a reference measured in the same run.
bench: setup-test build image
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 ./image/ ./os/... ./lab/...
	$(GO) test -run '^$$' -bench ForwardVsKernel -benchtime 1x -count=1 ./services/forwarding/
	$(GO) test -run '^$$' -bench . -skip ForwardVsKernel -count=1 ./services/... ./cli/... ./yang/...

# The compiled form of the YANG modules (yang/schema/compiled.go), after a module changed.
generate:
	$(GO) generate ./yang/schema

clean:
	rm -rf bin
	-docker image rm -f $(IMAGE) 2>/dev/null
