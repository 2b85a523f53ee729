/* A tiny interpreter for the device programs devices-bpf.c generates, so tests check their logic without the
 * kernel. It also checks what the verifier would refuse: an unknown opcode, a jump out of the program, a read
 * of an unset register, an instruction no path reaches, or a path that falls off the end. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <linux/bpf.h>

/* Returns 1 allow, 0 deny, or -1 with *why set when the program is malformed. */
static inline int interp_dev_prog(const struct bpf_insn *p, size_t n, uint32_t type, uint32_t access,
				  uint32_t major, uint32_t minor, const char **why) {
	uint64_t reg[11] = { 0 };
	bool set[11] = { false };
	bool r1_is_ctx = true;
	const uint32_t ctx[3] = { access << 16 | type, major, minor };

	set[1] = true;
	for (size_t pc = 0, steps = 0; steps < 100000; steps++) {
		if (pc >= n) {
			*why = "fell off the end";
			return -1;
		}
		const struct bpf_insn *i = &p[pc];
		uint8_t d = i->dst_reg, s = i->src_reg;
		if (d > 10 || s > 10) {
			*why = "bad register";
			return -1;
		}
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			if (s != 1 || !r1_is_ctx || i->off < 0 || i->off > 8 || i->off % 4) {
				*why = "bad context load";
				return -1;
			}
			reg[d] = ctx[i->off / 4];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_X:
			if (!set[s]) {
				*why = "read of an unset register";
				return -1;
			}
			reg[d] = reg[s];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			reg[d] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_ALU64 | BPF_AND | BPF_K:
		case BPF_ALU64 | BPF_RSH | BPF_K:
			if (!set[d]) {
				*why = "read of an unset register";
				return -1;
			}
			if ((i->code & 0xf0) == BPF_AND)
				reg[d] &= (uint64_t)(int64_t)i->imm;
			else
				reg[d] >>= i->imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
		case BPF_JMP | BPF_JEQ | BPF_K: {
			if (!set[d]) {
				*why = "read of an unset register";
				return -1;
			}
			bool eq = reg[d] == (uint64_t)(int64_t)i->imm;
			bool take = (i->code & 0xf0) == BPF_JEQ ? eq : !eq;
			if ((int64_t)pc + 1 + i->off < 0 || (size_t)((int64_t)pc + 1 + i->off) >= n) {
				*why = "jump out of the program";
				return -1;
			}
			pc = take ? (size_t)((int64_t)pc + 1 + i->off) : pc + 1;
			continue;
		}
		case BPF_JMP | BPF_EXIT:
			if (!set[0]) {
				*why = "exit with r0 unset";
				return -1;
			}
			return reg[0] ? 1 : 0;
		default:
			*why = "unknown opcode";
			return -1;
		}
		set[d] = true;
		if (d == 1)
			r1_is_ctx = false;
		pc++;
	}
	*why = "does not terminate";
	return -1;
}

/* Every instruction reachable, as the verifier demands. */
static inline bool interp_all_reachable(const struct bpf_insn *p, size_t n) {
	static bool seen[65536];
	static size_t stack[2 * 65536];
	size_t top = 0;
	if (n == 0 || n > 65536)
		return false;
	memset(seen, 0, sizeof seen);
	stack[top++] = 0;
	while (top) {
		size_t pc = stack[--top];
		if (pc >= n || seen[pc])
			continue;
		seen[pc] = true;
		uint8_t c = p[pc].code;
		if (c == (BPF_JMP | BPF_EXIT))
			continue;
		if ((c & 0x07) == BPF_JMP && (c & 0xf0) != BPF_EXIT) {
			int64_t t = (int64_t)pc + 1 + p[pc].off;
			if (t >= 0)
				stack[top++] = (size_t)t;
		}
		stack[top++] = pc + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			return false;
	return true;
}
