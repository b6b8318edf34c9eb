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

Per output group ``g`` (``PE`` channels) a layer runs as a four-stage pipeline:

* column loader: reads the next input column (one RAM read per 16-bit word, pad columns
  substituted) into a one-column stage buffer while the fold stage works, and shifts it into the
  ``K``-column window register when the fold stage has finished a position;
* fold stage: per conv position, one ``SIMD``-lane slice of the flattened window per cycle
  (the first layer: all ``K`` sign-controlled int8 add/subtracts in one cycle);
* accumulate stage: adds the ``PE`` XNOR-popcounts;
* pool stage (:class:`~.pool_unit.PoolUnit`): a completed pool window goes through the
  threshold unit into the next feature map (or, in the last layer, into the head's sums).

A position costs ``max(folds, words to load)`` cycles in steady state. The exact cycle count is
:func:`~.core_plan.estimate_cycles`; the Python model of the whole core is
:func:`ecgaccel.models.reference.run`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .core_plan import FM_WIDTH, CorePlan, LayerPlan
from .pool_unit import PoolUnit, pool_slots
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
        k_max = max(lp.kernel for lp in P.layers)
        s = _Signals(P, k_max)
        s.memories(m)

        # ---- accumulate stage (binary layers): XNOR-popcount of the fold the fold stage issued
        pops = [Signal(range(simd + 1), name=f"pop{p}") for p in range(pe)]
        for p in range(pe):
            lane_w = s.w_rd.data[p * simd : (p + 1) * simd]
            m.d.comb += pops[p].eq(popcount_tree(~(s.xsel ^ lane_w) & s.xmask))
        with m.If(s.b_valid):
            m.d.sync += [s.acc[p].eq(Mux(s.b_first, 0, s.acc[p]) + pops[p]) for p in range(pe)]
        # defaults: the fold stage issues nothing; the pool stage follows the accumulate stage
        m.d.sync += [s.b_valid.eq(0), s.b_last.eq(0), s.c_go.eq(s.b_valid & s.b_last)]

        # ---- pool stage: conv value 2 * popcount - fan-in (binary) or the first-layer sum
        m.submodules.pool = pool = PoolUnit(
            pe, aw, n_slots=max(pool_slots(lp.pool_kernel, lp.pool_stride) for lp in P.layers),
            kernel_max=max(lp.pool_kernel for lp in P.layers),
            stride_max=max(lp.pool_stride for lp in P.layers),
            n_out_max=max(lp.l_out for lp in P.layers),
        )  # fmt: skip
        m.d.comb += [pool.valid.eq(s.c_go), pool.kernel.eq(s.pool_k),
                     pool.stride.eq(s.pool_s), pool.n_out.eq(s.l_out)]  # fmt: skip
        for p in range(pe):
            two_acc = Cat(Const(0, 1), s.acc[p], Const(0, 1)).as_signed()
            m.d.comb += pool.m[p].eq(Mux(s.first_layer, s.acc1[p], two_acc - s.fan_in))
        final = [pool.out[p] for p in range(pe)]
        with m.If(pool.done):
            m.d.sync += s.u_out.eq(s.u_out + 1)
            for p in range(pe):  # the head's per-lane sums (cleared when the head layer starts)
                m.d.sync += s.hp[p].eq(s.hp[p] + Mux(final[p] > 0, final[p], 0))
                m.d.sync += s.hn[p].eq(s.hn[p] + Mux(final[p] < 0, final[p], 0))
        tl = 2 * aw + 1
        th_bits = Signal(pe)
        m.d.comb += th_bits.eq(Cat(*[
            threshold_bit(final[p], s.th_reg[p * tl : p * tl + aw].as_signed(),
                          s.th_reg[p * tl + aw : p * tl + 2 * aw].as_signed(),
                          s.th_reg[p * tl + 2 * aw])
            for p in range(pe)
        ]))  # fmt: skip

        with m.FSM(init="RECV") as fsm:
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
                m.next = "L0_GS0"
            for lp in P.layers:
                self._layer_states(m, lp, s, pool)
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

        # ---- where a completed pool window goes: the next feature map (threshold layers)
        for lp in P.layers:
            if lp.is_head:
                continue
            busy = fsm.ongoing(f"L{lp.index}_RUN") | fsm.ongoing(f"L{lp.index}_DRAIN")
            per_word = FM_WIDTH // pe
            wr = s.fm_wr[lp.index % 2]
            word = s.u_out * lp.words_out + ((s.g * pe) >> 4)
            lane = ((s.g * pe) & (FM_WIDTH - 1)) // pe if per_word > 1 else 0
            with m.If(busy & pool.done):
                m.d.comb += [
                    wr.addr.eq(word[: len(wr.addr)]),
                    wr.data.eq(Cat(*[th_bits] * per_word)),
                    wr.en.eq(Const(1, per_word) << lane),
                ]
        return m

    def _layer_states(self, m: Module, lp: LayerPlan, s: _Signals, pool: PoolUnit) -> None:
        """Add the FSM states of layer ``lp``: group set-up (GS0, GS1), the pipelined run of the
        loader and fold stages (RUN), and the drain of the accumulate and pool stages (DRAIN)."""
        P = self.plan
        simd = P.simd
        i, k = lp.index, lp.kernel
        w = lp.reads_per_column
        last_layer = i == len(P.layers) - 1
        nxt = "SCALC" if last_layer else f"L{i + 1}_GS0"
        src = (i - 1) % 2
        issue = lp.issue_cycles

        with m.State(f"L{i}_GS0"):
            m.d.comb += [s.th_rd.addr.eq(lp.th_base + s.g), s.w1_rd.addr.eq(s.g), pool.clear.eq(1)]
            m.d.sync += [
                s.t.eq(0), s.f.eq(0), s.iss_p.eq(-lp.pad_left), s.iss_j.eq(0),
                s.cols_left.eq(k + (lp.conv_positions - 1) * lp.stride), s.need.eq(k),
                s.pend.eq(0), s.stage_full.eq(0), s.u_out.eq(0),
                s.first_layer.eq(int(not lp.binary_input)), s.fan_in.eq(lp.fan_in),
                s.pool_k.eq(lp.pool_kernel), s.pool_s.eq(lp.pool_stride), s.l_out.eq(lp.l_out),
            ]  # fmt: skip
            if lp.is_head:
                m.d.sync += [x.eq(0) for x in (*s.hp, *s.hn)]
            m.next = f"L{i}_GS1"
        with m.State(f"L{i}_GS1"):
            if not lp.is_head:
                m.d.sync += s.th_reg.eq(s.th_rd.data)
            if not lp.binary_input:
                m.d.sync += s.w1_reg.eq(s.w1_rd.data)
            m.next = f"L{i}_RUN"

        with m.State(f"L{i}_RUN"):
            a_go = (s.need == 0) & (s.t != lp.conv_positions)
            a_last = Signal(name=f"l{i}_a_last")
            m.d.comb += a_last.eq(a_go & (s.f == issue - 1))
            completing = s.pend & s.pend_last
            shift = Signal(name=f"l{i}_shift")
            m.d.comb += shift.eq((s.stage_full | completing) & ((s.need != 0) | a_last))
            more = a_last & (s.t != lp.conv_positions - 1)
            m.d.sync += s.need.eq(s.need - shift + Mux(more, lp.stride, 0))

            # ---- column loader: issue one read per cycle; the data arrives a cycle later
            self._load_column(m, lp, s, src, completing, shift)
            can_issue = (s.cols_left != 0) & (~s.stage_full | shift) & ~(completing & ~shift)
            out_of_range = (s.iss_p < 0) | (s.iss_p >= lp.l_in)
            m.d.sync += s.pend.eq(can_issue)
            with m.If(can_issue):
                m.d.sync += [s.pend_pad.eq(out_of_range), s.pend_j.eq(s.iss_j),
                             s.pend_last.eq(s.iss_j == w - 1)]  # fmt: skip
                if lp.binary_input:
                    rd = s.fm_rd[src]
                    m.d.comb += rd.addr.eq((s.iss_p * lp.words_in + s.iss_j)[: len(rd.addr)])
                else:
                    shift_bits = (P.in_lanes - 1).bit_length()
                    m.d.comb += s.in_rd.addr.eq((s.iss_p >> shift_bits)[: len(s.in_rd.addr)])
                    if shift_bits:
                        m.d.sync += s.pend_lane.eq(s.iss_p[:shift_bits])
                with m.If(s.iss_j == w - 1):
                    m.d.sync += [s.iss_j.eq(0), s.iss_p.eq(s.iss_p + 1),
                                 s.cols_left.eq(s.cols_left - 1)]  # fmt: skip
                with m.Else():
                    m.d.sync += s.iss_j.eq(s.iss_j + 1)

            # ---- fold stage
            with m.If(a_go):
                m.d.sync += s.f.eq(Mux(s.f == issue - 1, 0, s.f + 1))
                with m.If(a_last):
                    m.d.sync += s.t.eq(s.t + 1)
                    with m.If(s.t == lp.conv_positions - 1):
                        m.next = f"L{i}_DRAIN"
                if lp.binary_input:
                    flat_w = lp.chunks * simd
                    flat = Cat(*[s.win[q][: lp.c_in] for q in range(k)])
                    if flat_w > len(flat):
                        flat = Cat(flat, Const(0, flat_w - len(flat)))
                    last_mask = Const((1 << (lp.fan_in - (lp.chunks - 1) * simd)) - 1, simd)
                    m.d.comb += s.w_rd.addr.eq(lp.w_base + s.g * lp.chunks + s.f)
                    m.d.sync += [
                        s.xsel.eq(flat.word_select(s.f, simd)),
                        s.xmask.eq(Mux(s.f == lp.chunks - 1, last_mask, Const(-1, simd))),
                        s.b_valid.eq(1), s.b_first.eq(s.f == 0), s.b_last.eq(a_last),
                    ]  # fmt: skip
                else:
                    for p in range(P.pe):
                        terms = [Mux(s.w1_reg[p * k + q], s.win1[q], -s.win1[q]) for q in range(k)]
                        total = terms[0]
                        for term in terms[1:]:
                            total = total + term
                        m.d.sync += s.acc1[p].eq(total)
            if not lp.binary_input:
                m.d.sync += s.c_go.eq(a_go)  # the kernel sum is ready a cycle later

        with m.State(f"L{i}_DRAIN"), m.If(~s.b_valid & ~s.c_go):  # accumulate, pool done
            if lp.is_head:
                # per-lane sums shift into the class chain; after the last group chain[c]
                # holds class c (no per-class adders or decoders)
                chain_p, chain_n, pe = s.pos_chain, s.neg_chain, P.pe
                m.d.sync += [chain_p[q].eq(chain_p[q + pe]) for q in range(len(chain_p) - pe)]
                m.d.sync += [chain_n[q].eq(chain_n[q + pe]) for q in range(len(chain_n) - pe)]
                m.d.sync += [chain_p[len(chain_p) - pe + p].eq(s.hp[p]) for p in range(pe)]
                m.d.sync += [chain_n[len(chain_n) - pe + p].eq(s.hn[p]) for p in range(pe)]
                m.d.sync += [x.eq(0) for x in (*s.hp, *s.hn)]
            with m.If(s.g == lp.groups - 1):
                m.d.sync += s.g.eq(0)
                if last_layer:
                    m.d.sync += s.c_idx.eq(0)
                m.next = nxt
            with m.Else():
                m.d.sync += s.g.eq(s.g + 1)
                m.next = f"L{i}_GS0"

    def _load_column(self, m: Module, lp: LayerPlan, s: _Signals, src: int, completing: Value,
                     shift: Value) -> None:  # fmt: skip
        """The loader's data side: assemble the returning word into the column; a completed
        column goes into the window (``shift``) or waits in the stage buffer."""
        P = self.plan
        k = lp.kernel
        if lp.binary_input:
            pad_word = Const((1 << FM_WIDTH) - 1 if lp.pad_bit else 0, FM_WIDTH)
            word = Mux(s.pend_pad, pad_word, s.fm_rd[src].data)
            assembled = Signal(P.col_width, name=f"l{lp.index}_col")
            m.d.comb += assembled.eq(s.col_buf)
            with m.Switch(s.pend_j):
                for j in range(lp.words_in):
                    with m.Case(j):
                        m.d.comb += assembled[j * FM_WIDTH : (j + 1) * FM_WIDTH].eq(word)
            with m.If(s.pend):
                m.d.sync += s.col_buf.eq(assembled)
            window, stage = s.win, s.stage
        else:
            sample = s.in_rd.data.word_select(s.pend_lane, P.input_bits).as_signed()
            assembled = Mux(s.pend_pad, Const(lp.pad_value, signed(P.input_bits + 1)), sample)
            window, stage = s.win1, s.stage1
        with m.If(shift):
            m.d.sync += [window[q].eq(window[q + 1]) for q in range(k - 1)]
            m.d.sync += window[k - 1].eq(Mux(s.stage_full, stage, assembled))
            m.d.sync += s.stage_full.eq(0)
        with m.Elif(completing):
            m.d.sync += [stage.eq(assembled), s.stage_full.eq(1)]


class _Signals:
    """The core's registers and memory ports (a namespace shared by the FSM builders)."""

    def __init__(self, P: CorePlan, k_max: int) -> None:
        pe, aw = P.pe, P.acc_width
        first = P.layers[0]
        self.P = P
        self.beat = Signal(range(P.in_beats + 1))
        self.g = Signal(range(max(lp.groups for lp in P.layers) + 1))
        self.t = Signal(range(max(lp.conv_positions for lp in P.layers) + 1))
        p_max = max(lp.l_in + lp.kernel for lp in P.layers)
        self.iss_p = Signal(signed((p_max + 16).bit_length() + 1))
        self.iss_j = Signal(range(max(lp.words_in for lp in P.layers) + 1))
        self.cols_left = Signal(range(max(lp.kernel + lp.conv_positions * lp.stride
                                          for lp in P.layers) + 1))  # fmt: skip
        self.need = Signal(range(max(k_max, *(lp.stride for lp in P.layers)) + 1))
        self.pend = Signal()
        self.pend_pad = Signal()
        self.pend_last = Signal()
        self.pend_j = Signal.like(self.iss_j)
        self.pend_lane = Signal(range(P.in_lanes))
        self.col_buf = Signal(P.col_width)
        self.stage = Signal(P.col_width)
        self.stage1 = Signal(signed(P.input_bits + 1))
        self.stage_full = Signal()
        self.win = [Signal(P.col_width, name=f"win{k}") for k in range(k_max)]
        self.win1 = [Signal(signed(P.input_bits + 1), name=f"win1_{k}")
                     for k in range(first.kernel)]  # fmt: skip
        self.f = Signal(range(max(lp.chunks for lp in P.layers) + 2))
        self.xsel = Signal(P.simd)
        self.xmask = Signal(P.simd)
        self.b_valid = Signal()
        self.b_first = Signal()
        self.b_last = Signal()
        self.c_go = Signal()
        pop_w = max(lp.fan_in for lp in P.layers if lp.binary_input).bit_length()
        self.acc = [Signal(pop_w, name=f"acc{p}") for p in range(pe)]
        self.acc1 = [Signal(signed(aw), name=f"acc1_{p}") for p in range(pe)]
        self.u_out = Signal(range(max(lp.l_out for lp in P.layers) + 2))
        self.first_layer = Signal()
        self.fan_in = Signal(range(max(lp.fan_in for lp in P.layers) + 1))
        self.pool_k = Signal(range(max(lp.pool_kernel for lp in P.layers) + 1))
        self.pool_s = Signal(range(max(lp.pool_stride for lp in P.layers) + 1))
        self.l_out = Signal.like(self.u_out)
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
            mem = Memory(shape=unsigned(FM_WIDTH), depth=P.fm_depths[b], init=[])
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
