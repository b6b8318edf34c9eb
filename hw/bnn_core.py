"""The hand-written, layer-sequential XNOR-popcount BNN core (Amaranth 0.5).

One engine runs the layers of an integer network description one after the other; feature maps
live in two on-chip ping-pong RAMs, weights and thresholds in ROMs (inferred block RAM on iCE40 /
ECP5). It is the small-footprint back end; the dataflow pipeline is the fast one.

Streams (AXI-Stream, see :mod:`.stream`):

* ``s_axis``: one window, ``in_lanes`` int8 samples per beat (sample ``p`` in lane
  ``p % in_lanes``, lane 0 in the low bits), ``input_length / in_lanes`` beats; ``tlast`` is not
  checked. ``tready`` is high only while the core is receiving.
* ``m_axis``: ``n_classes`` beats of class scores (two's complement, sign-extended to ``tdata``)
  in class order, then one beat with the predicted class index and ``tlast``.

Per conv position ``t`` of a layer and output group ``g`` (``PE`` channels): load the new input
columns into a ``K``-column window register (one RAM read per 16-bit word, pad columns
substituted), accumulate ``SIMD``-lane XNOR-popcounts over the flattened fan-in (the first layer:
``K`` sign-controlled int8 add/subtracts per lane, in one cycle), then one pool cycle updates
``ceil(pool_kernel / pool_stride)`` running-max slots per lane; a completed pool goes through the
threshold unit into the next feature map (or, in the last layer, into the head's sums). The exact
cycle count is :func:`~.core_plan.estimate_cycles`; the Python model of the whole core is
:func:`ecgaccel.models.reference.run`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .core_plan import FM_WIDTH, CorePlan, LayerPlan
from .primitives import popcount_tree, threshold_bit
from .stream import AxiStreamSignature


class BnnCore(wiring.Component):
    """Layer-sequential BNN inference core for one :class:`~.core_plan.CorePlan`.

    Members
    -------
    s_axis : In(AxiStreamSignature(in_lanes * 8))
        Input samples.
    m_axis : Out(AxiStreamSignature(out_width))
        Class scores, then the class.
    """

    def __init__(self, plan: CorePlan) -> None:
        self.plan = plan
        super().__init__(
            {
                "s_axis": In(AxiStreamSignature(plan.in_lanes * plan.input_bits)),
                "m_axis": Out(AxiStreamSignature(plan.out_width)),
            }
        )

    def elaborate(self, platform) -> Module:
        P = self.plan
        m = Module()
        pe, simd, aw = P.pe, P.simd, P.acc_width
        n_slots = max(-(-lp.pool_kernel // lp.pool_stride) for lp in P.layers)
        k_max = max(lp.kernel for lp in P.layers)
        s = _Signals(P, n_slots, k_max)
        s.memories(m)

        # ---- shared datapath: XNOR-popcount lanes, pooled value, pool slots, thresholds
        pops = [Signal(range(simd + 1), name=f"pop{p}") for p in range(pe)]
        for p in range(pe):
            lane_w = s.w_rd.data[p * simd : (p + 1) * simd]
            m.d.comb += pops[p].eq(popcount_tree(~(s.xsel ^ lane_w) & s.xmask))
        m_val = [Signal(signed(aw), name=f"m{p}") for p in range(pe)]
        for p in range(pe):
            two_acc = Cat(Const(0, 1), s.acc[p], Const(0, 1)).as_signed()
            m.d.comb += m_val[p].eq(Mux(s.first_layer, s.acc1[p], two_acc - s.fan_in))
        start = s.pool_en & (s.phase == 0) & (s.u_start < s.l_out)
        final = [Signal(signed(aw), name=f"final{p}") for p in range(pe)]
        done_any = Signal()
        for k in range(n_slots):
            starting = start & (s.s_next == k)
            active = s.rem[k] != 0
            with m.If(s.pool_en & starting):
                m.d.sync += s.rem[k].eq(s.pool_k - 1)
                m.d.sync += [s.slot[p][k].eq(m_val[p]) for p in range(pe)]
                with m.If(s.pool_k == 1):
                    m.d.comb += done_any.eq(1)
                    m.d.comb += [final[p].eq(m_val[p]) for p in range(pe)]
            with m.Elif(s.pool_en & active):
                m.d.sync += s.rem[k].eq(s.rem[k] - 1)
                for p in range(pe):
                    mx = Mux(m_val[p] > s.slot[p][k], m_val[p], s.slot[p][k])
                    m.d.sync += s.slot[p][k].eq(mx)
                    with m.If(s.rem[k] == 1):
                        m.d.comb += final[p].eq(mx)
                with m.If(s.rem[k] == 1):
                    m.d.comb += done_any.eq(1)
        with m.If(start):
            m.d.sync += [s.s_next.eq(Mux(s.s_next == n_slots - 1, 0, s.s_next + 1)),
                         s.u_start.eq(s.u_start + 1)]  # fmt: skip
        with m.If(s.pool_en):
            m.d.sync += s.phase.eq(Mux(s.phase == s.pool_s - 1, 0, s.phase + 1))
        tl = 2 * aw + 1
        th_bits = Signal(pe)
        m.d.comb += th_bits.eq(Cat(*[
            threshold_bit(final[p], s.th_reg[p * tl : p * tl + aw].as_signed(),
                          s.th_reg[p * tl + aw : p * tl + 2 * aw].as_signed(),
                          s.th_reg[p * tl + 2 * aw])
            for p in range(pe)
        ]))  # fmt: skip
        shared = {"pops": pops, "final": final, "done_any": done_any, "th_bits": th_bits}

        with m.FSM(init="RECV"):
            with m.State("RECV"):
                m.d.comb += [
                    self.s_axis.tready.eq(1),
                    s.in_wr.addr.eq(s.beat),
                    s.in_wr.data.eq(self.s_axis.tdata),
                    s.in_wr.en.eq(self.s_axis.tvalid),
                ]
                with m.If(self.s_axis.tvalid):
                    m.d.sync += s.beat.eq(s.beat + 1)
                    with m.If(s.beat == P.in_beats - 1):
                        m.next = "START"
            with m.State("START"):
                m.d.sync += [s.beat.eq(0), s.g.eq(0)]
                m.d.sync += [x.eq(0) for x in (*s.hp, *s.hn)]
                m.next = "L0_GS0"
            for lp in P.layers:
                self._layer_states(m, lp, s, shared)
            with m.State("SCALC"):
                c = s.c_idx
                m.d.sync += s.score.eq(s.a_pos[c] * s.pos[c] + s.a_neg[c] * s.neg[c] + s.bias[c])
                m.next = "SOUT"
            with m.State("SOUT"):
                m.d.comb += [self.m_axis.tvalid.eq(1), self.m_axis.tdata.eq(s.score)]
                with m.If(self.m_axis.tready):
                    with m.If((s.c_idx == 0) | (s.score > s.best)):
                        m.d.sync += [s.best.eq(s.score), s.best_c.eq(s.c_idx)]
                    m.d.sync += s.c_idx.eq(s.c_idx + 1)
                    with m.If(s.c_idx == P.n_classes - 1):
                        m.next = "COUT"
                    with m.Else():
                        m.next = "SCALC"
            with m.State("COUT"):
                m.d.comb += [
                    self.m_axis.tvalid.eq(1),
                    self.m_axis.tdata.eq(s.best_c),
                    self.m_axis.tlast.eq(1),
                ]
                with m.If(self.m_axis.tready):
                    m.next = "RECV"
        return m

    def _layer_states(self, m: Module, lp: LayerPlan, s: _Signals, shared: dict) -> None:
        """Add the FSM states of layer ``lp``: group set-up, column load, accumulate, pool."""
        P = self.plan
        pe, simd = P.pe, P.simd
        i, k = lp.index, lp.kernel
        last_layer = i == len(P.layers) - 1
        nxt = "SCALC" if last_layer else f"L{i + 1}_GS0"
        src, dst = (i - 1) % 2, i % 2

        with m.State(f"L{i}_GS0"):
            m.d.comb += [s.th_rd.addr.eq(lp.th_base + s.g), s.w1_rd.addr.eq(s.g)]
            m.d.sync += [
                s.t.eq(0), s.iss_p.eq(-lp.pad_left), s.iss_j.eq(0), s.iss_cols.eq(k),
                s.pend.eq(0), s.s_next.eq(0), s.phase.eq(0), s.u_start.eq(0), s.u_out.eq(0),
                *[r.eq(0) for r in s.rem], s.first_layer.eq(int(not lp.binary_input)),
                s.fan_in.eq(lp.fan_in), s.pool_k.eq(lp.pool_kernel),
                s.pool_s.eq(lp.pool_stride), s.l_out.eq(lp.l_out),
            ]  # fmt: skip
            m.next = f"L{i}_GS1"
        with m.State(f"L{i}_GS1"):
            if not lp.is_head:
                m.d.sync += s.th_reg.eq(s.th_rd.data)
            if not lp.binary_input:
                m.d.sync += s.w1_reg.eq(s.w1_rd.data)
            m.next = f"L{i}_LOAD"

        # ---- column load: issue one read per cycle, consume it one cycle later
        with m.State(f"L{i}_LOAD"):
            out_of_range = (s.iss_p < 0) | (s.iss_p >= lp.l_in)
            with m.If(s.pend):
                if lp.binary_input:
                    pad_word = Const((1 << FM_WIDTH) - 1 if lp.pad_bit else 0, FM_WIDTH)
                    word = Mux(s.pend_pad, pad_word, s.fm_rd[src].data)
                    assembled = Signal(P.col_width, name=f"l{i}_col")
                    m.d.comb += assembled.eq(s.col_buf)
                    with m.Switch(s.pend_j):
                        for j in range(lp.words_in):
                            with m.Case(j):
                                m.d.comb += assembled[j * FM_WIDTH : (j + 1) * FM_WIDTH].eq(word)
                    m.d.sync += s.col_buf.eq(assembled)
                    with m.If(s.pend_j == lp.words_in - 1):
                        m.d.sync += [s.win[q].eq(s.win[q + 1]) for q in range(k - 1)]
                        m.d.sync += s.win[k - 1].eq(assembled)
                else:
                    sample = s.in_rd.data.word_select(s.pend_lane, P.input_bits).as_signed()
                    value = Mux(s.pend_pad, Const(lp.pad_value, signed(P.input_bits + 1)), sample)
                    m.d.sync += [s.win1[q].eq(s.win1[q + 1]) for q in range(k - 1)]
                    m.d.sync += s.win1[k - 1].eq(value)
            with m.If(s.iss_cols != 0):
                m.d.sync += [s.pend.eq(1), s.pend_pad.eq(out_of_range), s.pend_j.eq(s.iss_j)]
                if lp.binary_input:
                    rd = s.fm_rd[src]
                    m.d.comb += rd.addr.eq((s.iss_p * lp.words_in + s.iss_j)[: len(rd.addr)])
                    with m.If(s.iss_j == lp.words_in - 1):
                        m.d.sync += [s.iss_j.eq(0), s.iss_p.eq(s.iss_p + 1),
                                     s.iss_cols.eq(s.iss_cols - 1)]  # fmt: skip
                    with m.Else():
                        m.d.sync += s.iss_j.eq(s.iss_j + 1)
                else:
                    shift = (P.in_lanes - 1).bit_length()
                    m.d.comb += s.in_rd.addr.eq((s.iss_p >> shift)[: len(s.in_rd.addr)])
                    if shift:
                        m.d.sync += s.pend_lane.eq(s.iss_p[:shift])
                    m.d.sync += [s.iss_p.eq(s.iss_p + 1), s.iss_cols.eq(s.iss_cols - 1)]
            with m.Else():
                m.d.sync += [s.pend.eq(0), s.f.eq(0)]
                m.next = f"L{i}_COMP"

        # ---- accumulate over the fan-in
        with m.State(f"L{i}_COMP"):
            if lp.binary_input:
                flat_w = lp.chunks * simd
                flat = Cat(*[s.win[q][: lp.c_in] for q in range(k)])
                if flat_w > len(flat):
                    flat = Cat(flat, Const(0, flat_w - len(flat)))
                last_mask = Const((1 << (lp.fan_in - (lp.chunks - 1) * simd)) - 1, simd)
                with m.If(s.f < lp.chunks):
                    m.d.comb += s.w_rd.addr.eq(lp.w_base + s.g * lp.chunks + s.f)
                    m.d.sync += [
                        s.xsel.eq(flat.word_select(s.f, simd)),
                        s.xmask.eq(Mux(s.f == lp.chunks - 1, last_mask, Const(-1, simd))),
                    ]
                with m.If(s.f == 0):
                    m.d.sync += [a.eq(0) for a in s.acc]
                with m.Else():
                    m.d.sync += [s.acc[p].eq(s.acc[p] + shared["pops"][p]) for p in range(pe)]
                m.d.sync += s.f.eq(s.f + 1)
                with m.If(s.f == lp.chunks):
                    m.next = f"L{i}_POOL"
            else:
                for p in range(pe):
                    terms = [Mux(s.w1_reg[p * k + q], s.win1[q], -s.win1[q]) for q in range(k)]
                    total = terms[0]
                    for term in terms[1:]:
                        total = total + term
                    m.d.sync += s.acc1[p].eq(total)
                m.next = f"L{i}_POOL"

        # ---- pool (shared slots), threshold, emit
        with m.State(f"L{i}_POOL"):
            m.d.comb += s.pool_en.eq(1)
            final = shared["final"]
            with m.If(shared["done_any"]):
                m.d.sync += s.u_out.eq(s.u_out + 1)
                if not lp.is_head:
                    per_word = FM_WIDTH // pe
                    wr = s.fm_wr[dst]
                    word = s.u_out * lp.words_out + ((s.g * pe) >> 4)
                    lane = ((s.g * pe) & (FM_WIDTH - 1)) // pe if per_word > 1 else 0
                    m.d.comb += [
                        wr.addr.eq(word[: len(wr.addr)]),
                        wr.data.eq(Cat(*[shared["th_bits"]] * per_word)),
                        wr.en.eq(Const(1, per_word) << lane),
                    ]
            if lp.is_head:
                # per-lane sums; at the end of a group they shift into the class chain, so after
                # the last group chain[c] holds class c (no per-class adders or decoders)
                hp_next, hn_next = [], []
                for p in range(pe):
                    take = shared["done_any"]
                    hp_next.append(s.hp[p] + Mux(take & (final[p] > 0), final[p], 0))
                    hn_next.append(s.hn[p] + Mux(take & (final[p] < 0), final[p], 0))
                with m.If(s.t == lp.conv_positions - 1):
                    m.d.sync += [x.eq(0) for x in (*s.hp, *s.hn)]
                    chain_p, chain_n = s.pos_chain, s.neg_chain
                    m.d.sync += [chain_p[q].eq(chain_p[q + pe]) for q in range(len(chain_p) - pe)]
                    m.d.sync += [chain_n[q].eq(chain_n[q + pe]) for q in range(len(chain_n) - pe)]
                    m.d.sync += [chain_p[len(chain_p) - pe + p].eq(hp_next[p]) for p in range(pe)]
                    m.d.sync += [chain_n[len(chain_n) - pe + p].eq(hn_next[p]) for p in range(pe)]
                with m.Else():
                    m.d.sync += [s.hp[p].eq(hp_next[p]) for p in range(pe)]
                    m.d.sync += [s.hn[p].eq(hn_next[p]) for p in range(pe)]
            with m.If(s.t == lp.conv_positions - 1):
                with m.If(s.g == lp.groups - 1):
                    m.d.sync += s.g.eq(0)
                    if last_layer:
                        m.d.sync += s.c_idx.eq(0)
                    m.next = nxt
                with m.Else():
                    m.d.sync += s.g.eq(s.g + 1)
                    m.next = f"L{i}_GS0"
            with m.Else():
                m.d.sync += [s.t.eq(s.t + 1), s.iss_cols.eq(lp.stride)]
                m.next = f"L{i}_LOAD"


class _Signals:
    """The core's registers and memory ports (a namespace shared by the FSM builders)."""

    def __init__(self, P: CorePlan, n_slots: int, k_max: int) -> None:
        pe, aw = P.pe, P.acc_width
        first = P.layers[0]
        self.P = P
        self.beat = Signal(range(P.in_beats + 1))
        self.g = Signal(range(max(lp.groups for lp in P.layers) + 1))
        self.t = Signal(range(max(lp.conv_positions for lp in P.layers) + 1))
        p_max = max(lp.l_in + lp.kernel for lp in P.layers)
        self.iss_p = Signal(signed((p_max + 16).bit_length() + 1))
        self.iss_j = Signal(range(max(lp.words_in for lp in P.layers) + 1))
        self.iss_cols = Signal(range(k_max + 1))
        self.pend = Signal()
        self.pend_pad = Signal()
        self.pend_j = Signal.like(self.iss_j)
        self.pend_lane = Signal(range(P.in_lanes))
        self.col_buf = Signal(P.col_width)
        self.win = [Signal(P.col_width, name=f"win{k}") for k in range(k_max)]
        self.win1 = [Signal(signed(P.input_bits), name=f"win1_{k}") for k in range(first.kernel)]
        self.f = Signal(range(max(lp.chunks for lp in P.layers) + 2))
        self.xsel = Signal(P.simd)
        self.xmask = Signal(P.simd)
        pop_w = max(lp.fan_in for lp in P.layers if lp.binary_input).bit_length()
        self.acc = [Signal(pop_w, name=f"acc{p}") for p in range(pe)]
        self.acc1 = [Signal(signed(aw), name=f"acc1_{p}") for p in range(pe)]
        self.slot = [[Signal(signed(aw), name=f"slot{p}_{k}") for k in range(n_slots)]
                     for p in range(pe)]  # fmt: skip
        pk_max = max(lp.pool_kernel for lp in P.layers)
        self.rem = [Signal(range(pk_max + 1), name=f"rem{k}") for k in range(n_slots)]
        self.s_next = Signal(range(n_slots))
        self.phase = Signal(range(max(lp.pool_stride for lp in P.layers) + 1))
        self.u_start = Signal(range(max(lp.l_out for lp in P.layers) + 2))
        self.u_out = Signal.like(self.u_start)
        self.pool_en = Signal()
        self.first_layer = Signal()
        self.fan_in = Signal(range(max(lp.fan_in for lp in P.layers) + 1))
        self.pool_k = Signal(range(pk_max + 1))
        self.pool_s = Signal(range(max(lp.pool_stride for lp in P.layers) + 1))
        self.l_out = Signal.like(self.u_start)
        self.th_reg = Signal(pe * (2 * aw + 1))
        self.w1_reg = Signal(pe * first.kernel)
        n = P.n_classes
        n_chain = P.layers[-1].groups * pe
        self.hp = [Signal(P.head_pos_width + 1, name=f"hp{p}") for p in range(pe)]
        self.hn = [Signal(signed(P.head_pos_width + 2), name=f"hn{p}") for p in range(pe)]
        self.pos_chain = [Signal(P.head_pos_width + 1, name=f"P{c}") for c in range(n_chain)]
        self.neg_chain = [
            Signal(signed(P.head_pos_width + 2), name=f"N{c}") for c in range(n_chain)
        ]
        self.pos = Array(self.pos_chain[:n])
        self.neg = Array(self.neg_chain[:n])
        self.c_idx = Signal(range(n + 1))
        self.score = Signal(signed(P.score_width))
        self.best = Signal(signed(P.score_width))
        self.best_c = Signal(range(n))
        self.a_pos = Array(Const(v, signed(P.coef_bits)) for v in P.a_pos)
        self.a_neg = Array(Const(v, signed(P.coef_bits)) for v in P.a_neg)
        self.bias = Array(Const(v, signed(P.score_width)) for v in P.bias)

    def memories(self, m: Module) -> None:
        """Instantiate the RAMs and ROMs and their ports."""
        P = self.P
        pe, simd, aw = P.pe, P.simd, P.acc_width
        first = P.layers[0]
        m.submodules.in_mem = mem = Memory(
            shape=unsigned(P.in_lanes * P.input_bits), depth=P.in_beats, init=[]
        )
        self.in_wr, self.in_rd = mem.write_port(), mem.read_port()
        self.fm_wr, self.fm_rd = [], []
        for b in range(2):
            mem = Memory(shape=unsigned(FM_WIDTH), depth=P.fm_depth, init=[])
            m.submodules[f"fm{b}"] = mem
            self.fm_wr.append(mem.write_port(granularity=pe))
            self.fm_rd.append(mem.read_port())
        m.submodules.w_rom = mem = Memory(
            shape=unsigned(pe * simd), depth=max(1, len(P.w_init)), init=list(P.w_init)
        )
        self.w_rd = mem.read_port()
        m.submodules.w1_rom = mem = Memory(
            shape=unsigned(pe * first.kernel), depth=len(P.w1_init), init=list(P.w1_init)
        )
        self.w1_rd = mem.read_port()
        m.submodules.th_rom = mem = Memory(
            shape=unsigned(pe * (2 * aw + 1)), depth=max(1, len(P.th_init)),
            init=list(P.th_init),
        )  # fmt: skip
        self.th_rd = mem.read_port()
