#!/usr/bin/env python3
"""
Builds the exported-decoder fixtures under tests/fixtures/export/: a tiny Llama written the way
Hugging Face's modeling_llama is (RMSNorm, rotary embeddings, grouped-query attention with 4 query
heads and 2 key/value heads, SwiGLU MLP, untied lm_head; 2 layers, hidden 64, intermediate 128,
vocabulary = zoo/tokenizer.json's 640, context 128), trained briefly and exported with
torch.onnx.export at opset 14 in Hugging Face optimum's "decoder with past" layout:

  inputs   input_ids, attention_mask, position_ids, past_key_values.N.key / .value
  outputs  logits, present.N.key / .value
  dynamic  batch_size, sequence_length, past_sequence_length (past of length 0 works)

Two folders are written, from the same trained weights:
  tests/fixtures/export/llama-opset14/          constant folding on (the exporter's default):
                                                weights are pre-transposed initializers
                                                named by the exporter (onnx::MatMul_NNN)
  tests/fixtures/export/llama-opset14-nofold/   do_constant_folding=False: MatMul(x, Transpose(W))
                                                with the PyTorch parameter names

Each folder holds model.onnx, tokenizer.json (a copy of zoo/tokenizer.json), config.json (the
fields workers/onnx/decoder-config.ts reads) and reference.json: the PyTorch perplexity on the
first 100 texts of zoo/datasets/grammar-test.jsonl in file order, computed as workers/eval/quality.ts
computes it (each text scored on its own with the end-of-text token prepended as context, texts
longer than the context keep their last tokens, perplexity = exp(sum NLL / scored tokens)).

Training: the texts of zoo/datasets/grammar-validation.jsonl (never grammar-test), seeded, for
at most TRAIN_SECONDS of wall time on two CPU threads.

Tokenization uses the project's own tokenizer (workers/tokenizer/tokenizer.ts) through a small
helper run with `npx tsx`, so ids are exactly the ones the worker will see.

Needs Python 3 with torch (1.13 or later, CPU is enough; Debian's python3-torch works, faster
with an optimized BLAS such as libopenblas0) and onnx (python3-onnx), no transformers package, plus
the repository's Node dependencies (npm install). Run from the repository root:

  python3 scripts/make-export-fixture.py

It is not run by npm test; tests/export/fixture-baseline.test.ts checks the committed output.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "zoo", "tokenizer.json")
TRAIN_FILE = os.path.join(ROOT, "zoo", "datasets", "grammar-validation.jsonl")
TEST_FILE = os.path.join(ROOT, "zoo", "datasets", "grammar-test.jsonl")
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "export")
OPSET = 14
SEED = 7
TRAIN_SECONDS = 90
TRAIN_STEPS = 1500
BATCH = 32
REFERENCE_TEXTS = 100

CONFIG = {
    "vocab_size": 640,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "max_position": 128,
    "rope_theta": 10000,
    "rms_eps": 0.00001,
    "tie_embeddings": False,
}

TOKENIZE_HELPER = """
import fs from "node:fs";
import { loadTokenizer } from %s;
const [, , tokenizerFile, inFile, outFile] = process.argv;
const t = loadTokenizer(tokenizerFile);
const texts = JSON.parse(fs.readFileSync(inFile, "utf8"));
fs.writeFileSync(outFile, JSON.stringify({ eosId: t.eosId, ids: texts.map((s) => t.encode(s)) }));
"""


def tokenize(texts):
    """Token ids of each text and the end-of-text id, from workers/tokenizer via npx tsx."""
    with tempfile.TemporaryDirectory() as tmp:
        helper = os.path.join(tmp, "tokenize.mts")
        module = os.path.join(ROOT, "workers", "tokenizer", "tokenizer.ts")
        with open(helper, "w") as f:
            f.write(TOKENIZE_HELPER % json.dumps(module))
        src, dst = os.path.join(tmp, "texts.json"), os.path.join(tmp, "ids.json")
        with open(src, "w") as f:
            json.dump(texts, f)
        subprocess.run(["npx", "tsx", helper, TOKENIZER, src, dst], cwd=ROOT, check=True)
        with open(dst) as f:
            out = json.load(f)
    return out["ids"], out["eosId"]


def read_texts(path):
    with open(path) as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


# --- the model, as transformers' modeling_llama writes it -------------------------------------


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, dim, base):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, position_ids):
        # [batch, seq, dim/2] -> cos, sin of [batch, seq, dim]
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):
    batch, num_kv_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_kv_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_kv_heads * n_rep, slen, head_dim)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_heads = c["num_heads"]
        self.num_kv_heads = c["num_kv_heads"]
        self.head_dim = c["hidden_size"] // c["num_heads"]
        self.n_rep = self.num_heads // self.num_kv_heads
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(h, self.num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(h, self.num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, h, bias=False)

    def forward(self, x, cos, sin, mask, past_key, past_value):
        bsz, q_len, _ = x.shape
        q = self.q_proj(x).view(bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(bsz, q_len, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(bsz, q_len, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = torch.cat([past_key, k], dim=2)
        v = torch.cat([past_value, v], dim=2)
        present = (k, v)
        k = repeat_kv(k, self.n_rep)
        v = repeat_kv(v, self.n_rep)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        scores = scores + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(bsz, q_len, self.num_heads * self.head_dim)
        return self.o_proj(out), present


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], c["hidden_size"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = LlamaAttention(c)
        self.mlp = LlamaMLP(c)
        self.input_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_eps"])
        self.post_attention_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_eps"])

    def forward(self, x, cos, sin, mask, past_key, past_value):
        h, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past_key, past_value)
        x = x + h
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(c) for _ in range(c["num_layers"])])
        self.norm = LlamaRMSNorm(c["hidden_size"], c["rms_eps"])
        self.rotary_emb = LlamaRotaryEmbedding(c["hidden_size"] // c["num_heads"], c["rope_theta"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        for name, p in self.named_parameters():
            if not name.endswith("norm.weight"):
                nn.init.normal_(p, std=0.02)

    def forward(self, input_ids, attention_mask, position_ids, past):
        """past: [(key, value)] per layer, [batch, kv_heads, past_len, head_dim]; returns logits, presents."""
        seq = input_ids.shape[1]
        past_len = past[0][0].shape[2]
        # causal mask over past + new positions, combined with the padding mask, as an additive bias
        q_pos = torch.arange(seq, device=input_ids.device)[:, None] + past_len
        k_pos = torch.arange(past_len + seq, device=input_ids.device)[None, :]
        allowed = (k_pos <= q_pos)[None, None, :, :] & (attention_mask[:, None, None, :] > 0)
        mask = torch.where(allowed, torch.tensor(0.0), torch.tensor(torch.finfo(torch.float32).min))
        x = self.model.embed_tokens(input_ids)
        cos, sin = self.model.rotary_emb(position_ids)
        presents = []
        for layer, (pk, pv) in zip(self.model.layers, past):
            x, present = layer(x, cos, sin, mask, pk, pv)
            presents.append(present)
        return self.lm_head(self.model.norm(x)), presents

    def empty_past(self, batch):
        c = self.config
        shape = (batch, c["num_kv_heads"], 0, c["hidden_size"] // c["num_heads"])
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in range(c["num_layers"])]


class OnnxWrapper(nn.Module):
    """Flat inputs and outputs in optimum's order for torch.onnx.export."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past)
        return (logits, *[t for kv in presents for t in kv])


# --- training and reference perplexity ---------------------------------------------------------


def train(model, sequences, pad_id):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(s, TRAIN_STEPS) / TRAIN_STEPS)))
    model.train()
    start = time.time()
    step = 0
    loss = torch.tensor(float("nan"))
    while step < TRAIN_STEPS and time.time() - start < TRAIN_SECONDS:
        idx = torch.randint(len(sequences), (BATCH,), generator=gen).tolist()
        batch = [sequences[i] for i in idx]
        width = max(len(s) for s in batch)
        ids = torch.full((BATCH, width), pad_id, dtype=torch.int64)
        mask = torch.zeros((BATCH, width), dtype=torch.int64)
        for r, s in enumerate(batch):
            ids[r, : len(s)] = torch.tensor(s)
            mask[r, : len(s)] = 1
        pos = torch.arange(width)[None, :].expand(BATCH, width)
        logits, _ = model(ids, mask, pos, model.empty_past(BATCH))
        targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step}  loss {loss.item():.4f}  {time.time() - start:.1f}s", flush=True)
    model.eval()
    return {"steps": step, "seconds": round(time.time() - start, 1), "final_loss": round(loss.item(), 4)}


@torch.no_grad()
def perplexity(model, bodies, eos_id, limit):
    """workers/eval/quality.ts evaluatePerplexity: each text alone, end-of-text prepended."""
    nll, tokens = 0.0, 0
    for body in bodies:
        ids = [eos_id, *body]
        if len(ids) > limit:
            ids = ids[len(ids) - limit :]
        if len(ids) < 2:
            continue
        x = torch.tensor([ids[:-1]])
        logits, _ = model(x, torch.ones_like(x), torch.arange(x.shape[1])[None, :], model.empty_past(1))
        logp = F.log_softmax(logits[0].double(), dim=-1)
        nll -= logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum().item()
        tokens += len(ids) - 1
    return math.exp(nll / tokens), tokens


@torch.no_grad()
def check_cache(model):
    """Prefill then one cached step must equal one full forward (guards the exported cache path)."""
    ids = torch.tensor([[0, 5, 9, 42, 7]])
    full, _ = model(ids, torch.ones_like(ids), torch.arange(5)[None, :], model.empty_past(1))
    _, past = model(ids[:, :4], torch.ones(1, 4, dtype=torch.int64), torch.arange(4)[None, :], model.empty_past(1))
    step, _ = model(ids[:, 4:], torch.ones(1, 5, dtype=torch.int64), torch.tensor([[4]]), past)
    assert torch.allclose(full[:, 4], step[:, 0], atol=1e-5), "cached step differs from the full forward"


def export(model, folder, fold):
    os.makedirs(folder, exist_ok=True)
    c = model.config
    L = c["num_layers"]
    past_len, seq = 3, 2
    hd = c["hidden_size"] // c["num_heads"]
    past = [torch.randn(1, c["num_kv_heads"], past_len, hd) for _ in range(2 * L)]
    args = (
        torch.tensor([[11, 12]]),
        torch.ones(1, past_len + seq, dtype=torch.int64),
        torch.tensor([[past_len, past_len + 1]]),
        *past,
    )
    past_names = [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
    dynamic = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "past_sequence_length + 1"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for n in past_names:
        dynamic[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present_names:
        dynamic[n] = {0: "batch_size", 2: "past_sequence_length + 1"}
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(
        OnnxWrapper(model),
        args,
        path,
        opset_version=OPSET,
        do_constant_folding=fold,
        input_names=["input_ids", "attention_mask", "position_ids", *past_names],
        output_names=["logits", *present_names],
        dynamic_axes=dynamic,
    )
    import onnx

    onnx.checker.check_model(onnx.load(path))
    shutil.copyfile(TOKENIZER, os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")


def main():
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    train_texts = read_texts(TRAIN_FILE)
    test_texts = read_texts(TEST_FILE)[:REFERENCE_TEXTS]
    ids, eos_id = tokenize(train_texts + test_texts)
    train_ids, test_ids = ids[: len(train_texts)], ids[len(train_texts) :]
    limit = CONFIG["max_position"]
    sequences = [([eos_id, *s, eos_id])[:limit] for s in train_ids]

    model = LlamaForCausalLM(CONFIG)
    training = train(model, sequences, pad_id=eos_id)
    print(f"trained {training}", file=sys.stderr)
    check_cache(model)
    ppl, tokens = perplexity(model, test_ids, eos_id, limit)
    print(f"PyTorch perplexity {ppl:.4f} over {tokens} tokens", file=sys.stderr)

    for name, fold in (("llama-opset14", True), ("llama-opset14-nofold", False)):
        folder = os.path.join(OUT_DIR, name)
        export(model, folder, fold)
        reference = {
            "dataset": "zoo/datasets/grammar-test.jsonl",
            "texts": f"first {REFERENCE_TEXTS} texts in file order",
            "method": "each text scored on its own, end-of-text token prepended, exp(sum NLL / scored tokens)",
            "perplexity": ppl,
            "eval_examples": len(test_ids),
            "eval_tokens": tokens,
            "opset": OPSET,
            "do_constant_folding": fold,
            "torch": torch.__version__,
            "seed": SEED,
            "training": {"file": "zoo/datasets/grammar-validation.jsonl", **training},
        }
        with open(os.path.join(folder, "reference.json"), "w") as f:
            json.dump(reference, f, indent=2)
            f.write("\n")
        size = os.path.getsize(os.path.join(folder, "model.onnx"))
        print(f"wrote {folder} (model.onnx {size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
