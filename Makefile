# SPDX-License-Identifier: GPL-2.0
# coap-offload: the kernel module, the user-space programs, and their tests.
#
#   make                 build the module (against KDIR) and the user-space programs
#   make check           install what is missing, run every test tier, print a summary
#   make demo            show the system working
#   make modules_install / install
#
# The kernel tree: KDIR, else KERNEL_SRC (Yocto's module.bbclass) or KERNELDIR,
# else the project's test kernel (tools/vm/build-kernel builds it on demand).

SHELL := /bin/bash
BUILD ?= build
CC ?= cc

KDIR ?= $(or $(KERNEL_SRC),$(KERNELDIR))
# Evaluated only by the rules that need a kernel tree.
kdir = $(if $(KDIR),$(KDIR),$(shell tools/vm/build-kernel))
# kselftest_harness.h comes from the kernel source tree.
KSRC = $(shell tools/vm/build-kernel --source)

HOST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Iinclude -Iinclude/uapi
# The 6.1 kselftest_harness.h compares signed with unsigned in its macros.
TEST_CFLAGS := $(HOST_CFLAGS) -O1 -Wno-sign-compare -fsanitize=address,undefined \
	-fno-sanitize-recover=all -I$(KSRC)/tools/testing/selftests

WIRE_SRC := include/coap/coap_wire.c include/coap/coap_rules.c
WIRE_HDR := include/coap/coap_wire.h include/coap/coap_replay.h \
	include/coap/coap_rules.h
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
SELFTESTS := $(patsubst tests/selftests/%.c,$(BUILD)/selftests/%,$(wildcard tests/selftests/*.c))
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all modules modules_install install clean check demo deps unit \
	selftests fuzz lint bench e2e userspace

all: modules userspace

modules:
	$(MAKE) -C $(kdir) M=$(CURDIR) modules

modules_install:
	$(MAKE) -C $(kdir) M=$(CURDIR) modules_install

install: modules_install

# Host unit tests of the shared wire code, the user-space protocol
# library and coapd's spool (ASan + UBSan).
$(BUILD)/unit/%: tests/unit/%.c $(WIRE_SRC) $(WIRE_HDR) \
		userspace/lib/coap_proto.c userspace/lib/coap_proto.h \
		userspace/lib/registry.c userspace/lib/registry.h \
		userspace/coapd/spool.c userspace/coapd/spool.h \
		userspace/coapd/sessions.c userspace/coapd/sessions.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Iuserspace/lib -Iuserspace/coapd $< $(WIRE_SRC) \
		userspace/lib/coap_proto.c userspace/lib/registry.c \
		userspace/coapd/spool.c userspace/coapd/sessions.c \
		-lcrypto -lsqlite3 -o $@

# coapd's /auth failure limits: pure logic, tested on its own.
$(BUILD)/unit/test_ratelimit: tests/unit/test_ratelimit.c \
		userspace/coapd/ratelimit.c userspace/coapd/ratelimit.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Iuserspace/coapd $< userspace/coapd/ratelimit.c \
		-lcrypto -o $@

# coapd's token set (persist.c's sessions with a registry row).
$(BUILD)/unit/test_tokenset: tests/unit/test_tokenset.c \
		userspace/coapd/tokenset.c userspace/coapd/tokenset.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Iuserspace/coapd $< userspace/coapd/tokenset.c \
		-o $@

# coapd's one-pass parser of delivered messages, against the libmnl walk
# it replaces.
$(BUILD)/unit/test_msgparse: tests/unit/test_msgparse.c \
		userspace/coapd/msgparse.c userspace/coapd/msgparse.h \
		userspace/coapd/coapd.h include/uapi/linux/coap_offload.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Iuserspace/lib -Iuserspace/coapd $< \
		userspace/coapd/msgparse.c -lmnl -o $@

# coapd's JSON line writer, against json-c (the reference it replaces).
$(BUILD)/unit/test_jsonline: tests/unit/test_jsonline.c \
		userspace/coapd/jsonline.c userspace/coapd/jsonline.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(JSONC_CFLAGS) -Iuserspace/coapd $< \
		userspace/coapd/jsonline.c -lcrypto $(JSONC_LIBS) -o $@

unit: $(UNIT_TESTS)

# kselftest-harness programs, run inside the VM as root.
SELFTEST_LIB := $(WIRE_SRC) userspace/lib/coap_nl.c userspace/lib/coap_proto.c
$(BUILD)/selftests/%: tests/selftests/%.c tests/selftests/selftest_lib.h \
		$(SELFTEST_LIB) $(WIRE_HDR) \
		userspace/lib/coap_nl.h userspace/lib/coap_proto.h \
		include/uapi/linux/coap_offload.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Wno-sign-compare -Iuserspace/lib \
		-I$(KSRC)/tools/testing/selftests $< $(SELFTEST_LIB) \
		-lmnl -lcrypto -o $@

selftests: $(SELFTESTS)

# coapd, the daemon (userspace/coapd/, on the shared user-space library).
JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
JSONC_LIBS := $(or $(shell pkg-config --libs json-c 2>/dev/null),-ljson-c)
COAPD_SRC := $(wildcard userspace/coapd/*.c)
COAPD_LIB := $(WIRE_SRC) userspace/lib/coap_nl.c userspace/lib/coap_proto.c \
	userspace/lib/registry.c
# DTLS mode needs libcoap's OpenSSL flavour (not notls).
COAPD_DTLS_LIBS := $(or $(shell pkg-config --libs libcoap-3-openssl 2>/dev/null),-lcoap-3-openssl) -lssl
$(BUILD)/coapd: $(COAPD_SRC) $(wildcard userspace/coapd/*.h) $(COAPD_LIB) $(WIRE_HDR) \
		$(wildcard userspace/lib/*.h) include/uapi/linux/coap_offload.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $(JSONC_CFLAGS) $(COAPD_SRC) \
		$(COAPD_LIB) -lmnl $(COAPD_DTLS_LIBS) -lcrypto -lsqlite3 $(JSONC_LIBS) -lcbor \
		-lmosquitto -o $@

# End-to-end test programs (tests/e2e/, run in the VM by guest-tests.sh).
$(BUILD)/e2e/device-client: tests/e2e/device-client.c tests/e2e/e2e_tap.h $(WIRE_SRC) $(WIRE_HDR) \
		userspace/lib/coap_proto.c userspace/lib/coap_proto.h $(WIRE_SRC)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< $(WIRE_SRC) \
		userspace/lib/coap_proto.c -lcrypto -lcbor -o $@

$(BUILD)/e2e/registry-add: tests/e2e/registry-add.c userspace/lib/registry.c \
		userspace/lib/registry.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< userspace/lib/registry.c \
		-lsqlite3 -o $@

$(BUILD)/e2e/restart-client: tests/e2e/restart-client.c $(WIRE_SRC) $(WIRE_HDR) \
		userspace/lib/coap_proto.c userspace/lib/coap_proto.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< $(WIRE_SRC) \
		userspace/lib/coap_proto.c -lcrypto -o $@

# A confirmation from a socket of its own (tests/e2e/held.sh).
$(BUILD)/e2e/nl-confirm: tests/e2e/nl-confirm.c userspace/lib/coap_nl.c \
		userspace/lib/coap_nl.h include/uapi/linux/coap_offload.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< userspace/lib/coap_nl.c -lmnl -o $@

# An LD_PRELOAD shim that holds a daemon right after it binds its port.
$(BUILD)/e2e/bind-delay.so: tests/e2e/bind-delay.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -shared -fPIC $< -ldl -o $@

# ackMode 1's device (tests/e2e/ackmode.sh): watches every datagram.
$(BUILD)/e2e/ackmode-device: tests/e2e/ackmode-device.c tests/e2e/e2e_tap.h $(WIRE_SRC) $(WIRE_HDR) \
		userspace/lib/coap_proto.c userspace/lib/coap_proto.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $(JSONC_CFLAGS) $< $(WIRE_SRC) \
		userspace/lib/coap_proto.c -lcrypto $(JSONC_LIBS) -o $@

# A DTLS client that retransmits a CON (tests/e2e/dtls.sh).
$(BUILD)/e2e/dtls-dup: tests/e2e/dtls-dup.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $< $(COAPD_DTLS_LIBS) -o $@

e2e: $(BUILD)/coapd $(BUILD)/e2e/device-client $(BUILD)/e2e/registry-add \
	$(BUILD)/coap-device $(BUILD)/e2e/restart-client $(BUILD)/coapctl \
	$(BUILD)/e2e/bind-delay.so $(BUILD)/e2e/nl-confirm \
	$(BUILD)/bench/loadgen $(BUILD)/e2e/ackmode-device $(BUILD)/e2e/dtls-dup

# coapctl, the operator's CLI (kernel over netlink, registry on SQLite).
COAPCTL_LIB := $(WIRE_SRC) userspace/lib/coap_nl.c userspace/lib/coap_proto.c \
	userspace/lib/registry.c
$(BUILD)/coapctl: userspace/coapctl.c $(COAPCTL_LIB) $(WIRE_HDR) \
		userspace/lib/coap_nl.h userspace/lib/coap_proto.h \
		userspace/lib/registry.h include/uapi/linux/coap_offload.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< $(COAPCTL_LIB) -lmnl -lcrypto \
		-lsqlite3 $(shell pkg-config --libs json-c) -o $@

# coap-device, a device on libcoap (symmetric mode): /auth and publishes.
LIBCOAP_CFLAGS := $(shell pkg-config --cflags libcoap-3-openssl 2>/dev/null || \
	pkg-config --cflags libcoap-3-notls 2>/dev/null)
LIBCOAP_LIBS := $(or $(shell pkg-config --libs libcoap-3-openssl 2>/dev/null || \
	pkg-config --libs libcoap-3-notls 2>/dev/null),-lcoap-3-openssl)
$(BUILD)/coap-device: userspace/coap-device.c userspace/lib/coap_proto.c \
		userspace/lib/coap_proto.h $(WIRE_SRC) $(WIRE_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $(LIBCOAP_CFLAGS) $(JSONC_CFLAGS) $< \
		userspace/lib/coap_proto.c $(WIRE_SRC) $(LIBCOAP_LIBS) -lcrypto \
		$(JSONC_LIBS) -lcbor -lm -o $@

userspace: $(BUILD)/coapctl $(BUILD)/coapd $(BUILD)/coap-device

# Traffic for coapctl's VM test (tests/vm/coapctl.sh): attach, publish.
$(BUILD)/vm/coapctl-traffic: tests/vm/coapctl-traffic.c $(SELFTEST_LIB) \
		$(WIRE_HDR) userspace/lib/coap_nl.h userspace/lib/coap_proto.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< $(SELFTEST_LIB) -lmnl -lcrypto -o $@

# The benchmark (issue 7): the load generator, and `make bench`, which runs
# tools/bench/run in the VM and writes bench/results/latest.md.
$(BUILD)/bench/loadgen: tools/bench/loadgen.c $(SELFTEST_LIB) \
		userspace/lib/registry.c $(WIRE_HDR) userspace/lib/coap_nl.h \
		userspace/lib/coap_proto.h userspace/lib/registry.h \
		include/uapi/linux/coap_offload.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iuserspace/lib $< $(SELFTEST_LIB) \
		userspace/lib/registry.c -lmnl -lcrypto -lsqlite3 -o $@

BENCH_HOST = $(shell lscpu | sed -n 's/^Model name: *//p'), $(shell nproc) \
	cores shared with other work, Debian 12
# BENCH_VCPUS=2 boots the benchmark kernel (build-kernel --bench, which
# finds more than one vCPU); the default, 1, the test kernel. The module is
# built for it in $(BUILD)/kmod-bench.
BENCH_VCPUS ?= 1
bench_kflag = $(if $(filter 1,$(BENCH_VCPUS)),,--bench)
bench: $(BUILD)/bench/loadgen $(BUILD)/coapd $(BUILD)/coapctl
	rm -rf $(BUILD)/kmod-bench && mkdir -p $(BUILD)/kmod-bench
	cp -r Kbuild kmod include $(BUILD)/kmod-bench/
	$(MAKE) -C $$(tools/vm/build-kernel $(bench_kflag)) \
		M=$(CURDIR)/$(BUILD)/kmod-bench modules
	tools/vm/run $(bench_kflag) --smp $(BENCH_VCPUS) --mem 4096 \
		--timeout 3000 --out $(BUILD)/bench-vm -- \
		env COAP_OFFLOAD_KO=$(CURDIR)/$(BUILD)/kmod-bench/coap_offload.ko \
		BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_PROFILE=$(BENCH_PROFILE) \
		tools/bench/run $(BUILD) "$(BENCH_HOST)"
	@mkdir -p bench/results
	cp $(BUILD)/bench-vm/latest.md bench/results/latest.md
	@echo "bench: results in bench/results/latest.md"

# libFuzzer targets on the wire code.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(WIRE_SRC) $(WIRE_HDR)
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude $< $(WIRE_SRC) -o $@

# coapd's /auth decoders (codec.c: json-c, libcbor) and the sign content.
$(BUILD)/fuzz/fuzz_auth_decode: tests/fuzz/fuzz_auth_decode.c \
		userspace/coapd/codec.c userspace/coapd/coapd.h \
		userspace/lib/coap_proto.c userspace/lib/coap_proto.h $(WIRE_SRC)
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
		-Iinclude/uapi -Iuserspace/lib -Iuserspace/coapd $(JSONC_CFLAGS) \
		$< userspace/coapd/codec.c userspace/lib/coap_proto.c $(WIRE_SRC) \
		$(JSONC_LIBS) -lcbor -lcrypto -o $@

fuzz: $(FUZZERS)

deps:
	tools/install-deps

check: deps
	tests/run-all

demo: deps
	tools/demo

clean:
	rm -rf $(BUILD)
	find kmod include \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' \) -delete
	rm -f Module.symvers modules.order
