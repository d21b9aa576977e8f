/**
 * A line-by-line port of POT's `NetworkSimplexSimple` (ot/lp/network_simplex_simple.h, POT
 * 0.7/0.8, itself Nicolas Bonneel's lightweight adaptation of LEMON's network_simplex.h)
 * specialised to the `FullBipartiteDigraph` of ot/lp/full_bipartitegraph.h, with the
 * template arguments EMD_wrap uses: Value = Cost = double, arc mixing on, block-search pivot.
 *
 * Why a port and not any min-cost-flow solver: on degenerate problems (many optimal plans) the
 * plan returned depends on solver internals (arc order, pivot rule, tie breaks in the ratio
 * test, float rounding of the potentials). docs/algorithm.md §7.7 asks for POT's plan in those
 * cases, so every tie rule, every loop direction and every floating-point expression below
 * mirrors the C++ (same operand order, so the same IEEE-754 results; the C++ is built for
 * x86-64 SSE2 without FMA contraction, which is what JS numbers compute too).
 *
 * Conventions carried over from the C++:
 * - Graph nodes: sources 0..n1-1, targets n1..n1+n2-1. Internal node index = nodeNum-1-node
 *   (`_node_id`), so internal node 0 is the last target. The artificial root is nodeNum.
 * - Graph arc a = i*n2 + (j-n1). Internal arc index = getArcID(a) = sequence(arcNum-1-a)
 *   (the "arc mixing" permutation). Artificial arcs occupy arcNum .. arcNum+nodeNum-1.
 * - The class members that C++ keeps as `int` are Int32Array / integers here; `Value`/`Cost`
 *   vectors are Float64Array.
 *
 * Only the code paths EMD_wrap reaches are ported: init() always forces `_sum_supply = 0`
 * after its balance check, so the LEQ/GEQ artificial-arc branches of init() and
 * initialPivots() are unreachable and left out (noted where they sit).
 */

/** `#define EPSILON 2.2204460492503131e-15` (network_simplex_simple.h). */
const EPSILON = 2.2204460492503131e-15;
/** `#define _EPSILON 1e-8`: tolerance of init()'s supply-balance check. */
const _EPSILON = 1e-8;
/** std::numeric_limits<double>::max(), the C++ `MAX`. */
const MAX = Number.MAX_VALUE;
/** std::numeric_limits<double>::infinity(), the C++ `INF` (double has an infinity). */
const INF = Infinity;

// enum ArcState
const STATE_UPPER = -1;
const STATE_TREE = 0;
const STATE_LOWER = 1;

/** enum ProblemType, with the C++ numeric values (ot.lp's check_result compares these ints). */
export const ProblemType = {
  INFEASIBLE: 0,
  OPTIMAL: 1,
  UNBOUNDED: 2,
  MAX_ITER_REACHED: 3,
} as const;
export type ProblemTypeCode = (typeof ProblemType)[keyof typeof ProblemType];

/**
 * NetworkSimplexSimple<FullBipartiteDigraph, double, double> with `arc_mixing = true`.
 * Construct, call supplyMap() and setCost() for every arc, run(), then read flow()/potential().
 */
export class NetworkSimplexSimple {
  // Graph (FullBipartiteDigraphBase)
  readonly n1: number;
  readonly n2: number;
  private readonly nodeNum: number;
  private readonly arcNum: number;
  private allArcNum = 0;
  private searchArcNum = 0;
  private readonly maxIter: number;

  private sumSupply = 0;

  private readonly source: Int32Array;
  private readonly target: Int32Array;
  private readonly cost: Float64Array;
  private readonly supply: Float64Array;
  private readonly flowArr: Float64Array;
  private readonly pi: Float64Array;

  // Spanning tree
  private readonly parent: Int32Array;
  private readonly pred: Int32Array;
  private readonly thread: Int32Array;
  private readonly revThread: Int32Array;
  private readonly succNum: Int32Array;
  private readonly lastSucc: Int32Array;
  private readonly dirtyRevs: Int32Array;
  private readonly forward: Uint8Array;
  private readonly state: Int8Array;
  private root = 0;

  // Temporary data of the current pivot
  private inArc = 0;
  private join = 0;
  private uIn = 0;
  private vIn = 0;
  private uOut = 0;
  private delta = 0;

  // Arc mixing (sequence())
  private readonly mixingCoeff: number;
  private readonly subsequenceLength: number;
  private readonly numBigSubsequences: number;
  private readonly numTotalBigSubsequenceNumbers: number;

  // BlockSearchPivotRule state
  private blockSize = 0;
  private nextArc = 0;

  /** Main-loop pivots performed by the last run() (the C++ `iter_number`). */
  iterations = 0;

  /**
   * `NetworkSimplexSimple(graph, arc_mixing=true, nbnodes=n1+n2, nb_arcs=n1*n2, maxiters)`
   * followed by reset(). `maxIter <= 0` means no cap, as in the C++ (`max_iter > 0 && …`).
   */
  constructor(n1: number, n2: number, maxIter: number) {
    this.n1 = n1;
    this.n2 = n2;
    this.maxIter = maxIter;
    // reset(): resize vectors
    this.nodeNum = n1 + n2;
    this.arcNum = n1 * n2;
    const allNodeNum = this.nodeNum + 1;
    const maxArcNum = this.arcNum + 2 * this.nodeNum;
    this.source = new Int32Array(maxArcNum);
    this.target = new Int32Array(maxArcNum);
    this.cost = new Float64Array(maxArcNum);
    this.supply = new Float64Array(allNodeNum);
    this.flowArr = new Float64Array(maxArcNum);
    this.pi = new Float64Array(allNodeNum);
    this.parent = new Int32Array(allNodeNum);
    this.pred = new Int32Array(allNodeNum);
    this.forward = new Uint8Array(allNodeNum);
    this.thread = new Int32Array(allNodeNum);
    this.revThread = new Int32Array(allNodeNum);
    this.succNum = new Int32Array(allNodeNum);
    this.lastSucc = new Int32Array(allNodeNum);
    this.state = new Int8Array(maxArcNum);
    // _dirty_revs is a std::vector that never holds more than one entry per stem node + 1.
    this.dirtyRevs = new Int32Array(allNodeNum + 1);

    // reset(), `if (_arc_mixing)`: store the arcs in a mixed order.
    const k = Math.max(Math.trunc(Math.sqrt(this.arcNum)), 10);
    this.mixingCoeff = k;
    this.subsequenceLength = Math.trunc(this.arcNum / k) + 1;
    this.numBigSubsequences = this.arcNum % k;
    this.numTotalBigSubsequenceNumbers = this.subsequenceLength * this.numBigSubsequences;
    // `Arc a; _graph.first(a); for (; a != INVALID; _graph.next(a))` walks a = arcNum-1 … 0.
    let i = 0;
    let j = 0;
    for (let a = this.arcNum - 1; a !== -1; --a) {
      this.source[i] = this.nodeId(Math.trunc(a / n2)); // _graph.source(a) = a / _n2
      this.target[i] = this.nodeId((a % n2) + n1); // _graph.target(a) = a % _n2 + _n1
      if ((i += k) >= this.arcNum) i = ++j;
    }
    // resetParams()
    for (let u = 0; u !== this.nodeNum; ++u) this.supply[u] = 0;
    for (let e = 0; e !== this.arcNum; ++e) this.cost[e] = 1;
    // _stype = GEQ (only used for the final potential shift in start()).
  }

  /** `_node_id(n) = _node_num - n - 1`. */
  private nodeId(n: number): number {
    return this.nodeNum - n - 1;
  }

  /** "thank you to DVK and MizardX from StackOverflow for this function!" — the mixing map. */
  private sequence(k: number): number {
    const smallv = k > this.numTotalBigSubsequenceNumbers ? 1 : 0;
    k -= this.numTotalBigSubsequenceNumbers * smallv;
    const subsequenceLength2 = this.subsequenceLength - smallv;
    const subsequenceNum = Math.trunc(k / subsequenceLength2) + this.numBigSubsequences * smallv;
    const subsequenceOffset = (k % subsequenceLength2) * this.mixingCoeff;
    return subsequenceOffset + subsequenceNum;
  }

  /** Internal index of graph arc `arc` (`getArcID`, arc mixing on). */
  getArcID(arc: number): number {
    return this.sequence(this.arcNum - arc - 1);
  }

  /** Internal (source, target) node indices stored by reset() at internal arc `e` (for tests). */
  internalArc(e: number): [number, number] {
    return [this.source[e], this.target[e]];
  }

  /**
   * `supplyMap(map1, n1, map2, n2)`: sources get map1 (positive), targets map2 (negative).
   * Walks graph nodes from nodeNum-1 down to 0 like `_graph.first(n)/next(n)`.
   */
  supplyMap(map1: Float64Array, map2: Float64Array): void {
    for (let n = this.nodeNum - 1; n !== -1; --n) {
      this.supply[this.nodeId(n)] = n < this.n1 ? map1[n] : map2[n - this.n1];
    }
  }

  /** `setCost(arc, cost)`: `_cost[getArcID(arc)] = cost`. */
  setCost(arc: number, c: number): void {
    this.cost[this.getArcID(arc)] = c;
  }

  /** `flow(a)`: `_flow[getArcID(a)]`. */
  flow(arc: number): number {
    return this.flowArr[this.getArcID(arc)];
  }

  /** `potential(n)`: `_pi[_node_id(n)]`. */
  potential(node: number): number {
    return this.pi[this.nodeId(node)];
  }

  /** `run()`: `if (!init()) return INFEASIBLE; return start();` */
  run(): ProblemTypeCode {
    if (!this.init()) return ProblemType.INFEASIBLE;
    return this.start();
  }

  // ---------------------------------------------------------------- init()

  private init(): boolean {
    const nodeNum = this.nodeNum;
    const arcNum = this.arcNum;
    if (nodeNum === 0) return false;

    // Check the sum of supply values (summed in internal node order, as the C++ does).
    this.sumSupply = 0;
    for (let i = 0; i !== nodeNum; ++i) this.sumSupply += this.supply[i];
    if (Math.abs(this.sumSupply) > _EPSILON) return false;
    // The C++ then forces the equality case: `_sum_supply = 0;`.
    this.sumSupply = 0;

    // Initialize artificial cost: Cost = double is not exact, so (max arc cost + 1) * nodeNum.
    let artCost = 0;
    for (let i = 0; i !== arcNum; ++i) {
      if (this.cost[i] > artCost) artCost = this.cost[i];
    }
    artCost = (artCost + 1) * nodeNum;

    // Initialize arc maps (flows start at 0: the arrays are freshly allocated).
    for (let i = 0; i !== arcNum; ++i) this.state[i] = STATE_LOWER;

    // Set data for the artificial root node
    const root = nodeNum;
    this.root = root;
    this.parent[root] = -1;
    this.pred[root] = -1;
    this.thread[root] = 0;
    this.revThread[0] = root;
    this.succNum[root] = nodeNum + 1;
    this.lastSucc[root] = root - 1;
    this.supply[root] = -this.sumSupply;
    this.pi[root] = 0;

    // `if (_sum_supply == 0)`: EQ supply constraints — the only branch reachable (see header).
    this.searchArcNum = arcNum;
    this.allArcNum = arcNum + nodeNum;
    for (let u = 0, e = arcNum; u !== nodeNum; ++u, ++e) {
      this.parent[u] = root;
      this.pred[u] = e;
      this.thread[u] = u + 1;
      this.revThread[u + 1] = u;
      this.succNum[u] = 1;
      this.lastSucc[u] = u;
      this.state[e] = STATE_TREE;
      if (this.supply[u] >= 0) {
        this.forward[u] = 1;
        this.pi[u] = 0;
        this.source[e] = u;
        this.target[e] = root;
        this.flowArr[e] = this.supply[u];
        this.cost[e] = 0;
      } else {
        this.forward[u] = 0;
        this.pi[u] = artCost;
        this.source[e] = root;
        this.target[e] = u;
        this.flowArr[e] = -this.supply[u];
        this.cost[e] = artCost;
      }
    }
    return true;
  }

  // ------------------------------------------------------ BlockSearchPivotRule

  /** BlockSearchPivotRule constructor: block = max(int(1.0 * sqrt(search_arc_num)), 10). */
  private initPivotRule(): void {
    const BLOCK_SIZE_FACTOR = 1.0;
    const MIN_BLOCK_SIZE = 10;
    this.blockSize = Math.max(Math.trunc(BLOCK_SIZE_FACTOR * Math.sqrt(this.searchArcNum)), MIN_BLOCK_SIZE);
    this.nextArc = 0;
  }

  /**
   * `findEnteringArc()`: scan blocks of arcs from `_next_arc` (wrapping), keep the most
   * negative reduced cost (first one on ties: strict `<`), and stop at the end of a block once
   * it is below `-EPSILON * max(|pi_s|, |pi_t|, |c|)` of the current candidate. The C++ `goto
   * search_end` leaves `e` at the arc that closed the block; `break` does the same here.
   */
  private findEnteringArc(): boolean {
    const state = this.state;
    const cost = this.cost;
    const pi = this.pi;
    const source = this.source;
    const target = this.target;
    const searchArcNum = this.searchArcNum;
    const blockSize = this.blockSize;
    const nextArc = this.nextArc;
    let inArc = this.inArc;
    let min = 0;
    let cnt = blockSize;
    let a: number;
    let e: number;
    let found = false;
    for (e = nextArc; e !== searchArcNum; ++e) {
      const c = state[e] * (cost[e] + pi[source[e]] - pi[target[e]]);
      if (c < min) {
        min = c;
        inArc = e;
      }
      if (--cnt === 0) {
        a = this.precisionScale(inArc);
        if (min < -EPSILON * a) {
          found = true;
          break;
        }
        cnt = blockSize;
      }
    }
    if (!found) {
      for (e = 0; e !== nextArc; ++e) {
        const c = state[e] * (cost[e] + pi[source[e]] - pi[target[e]]);
        if (c < min) {
          min = c;
          inArc = e;
        }
        if (--cnt === 0) {
          a = this.precisionScale(inArc);
          if (min < -EPSILON * a) {
            found = true;
            break;
          }
          cnt = blockSize;
        }
      }
    }
    this.inArc = inArc;
    if (!found) {
      a = this.precisionScale(inArc);
      if (min >= -EPSILON * a) return false;
    }
    // search_end:
    this.nextArc = e;
    return true;
  }

  /** The `a` of findEnteringArc: max(|pi[source]|, |pi[target]|, |cost|) of arc `arc`. */
  private precisionScale(arc: number): number {
    const ps = Math.abs(this.pi[this.source[arc]]);
    const pt = Math.abs(this.pi[this.target[arc]]);
    let a = ps > pt ? ps : pt;
    const c = Math.abs(this.cost[arc]);
    a = a > c ? a : c;
    return a;
  }

  // ------------------------------------------------------------ pivot steps

  /** `findJoinNode()`: climb from both ends of the entering arc, smaller subtree first. */
  private findJoinNode(): void {
    let u = this.source[this.inArc];
    let v = this.target[this.inArc];
    const succNum = this.succNum;
    const parent = this.parent;
    while (u !== v) {
      if (succNum[u] < succNum[v]) {
        u = parent[u];
      } else {
        v = parent[v];
      }
    }
    this.join = u;
  }

  /**
   * `findLeavingArc()`: ratio test. Strict `<` on the first path and `<=` on the second path
   * decide which blocking arc leaves on ties — this is where degenerate plans are decided.
   */
  private findLeavingArc(): boolean {
    const inArc = this.inArc;
    let first: number;
    let second: number;
    if (this.state[inArc] === STATE_LOWER) {
      first = this.source[inArc];
      second = this.target[inArc];
    } else {
      first = this.target[inArc];
      second = this.source[inArc];
    }
    const parent = this.parent;
    const pred = this.pred;
    const forward = this.forward;
    const flow = this.flowArr;
    const join = this.join;
    let delta = INF;
    let result = 0;
    let d: number;
    let e: number;

    // Search the cycle along the path form the first node to the root
    for (let u = first; u !== join; u = parent[u]) {
      e = pred[u];
      d = forward[u] ? flow[e] : INF;
      if (d < delta) {
        delta = d;
        this.uOut = u;
        result = 1;
      }
    }
    // Search the cycle along the path form the second node to the root
    for (let u = second; u !== join; u = parent[u]) {
      e = pred[u];
      d = forward[u] ? INF : flow[e];
      if (d <= delta) {
        delta = d;
        this.uOut = u;
        result = 2;
      }
    }
    this.delta = delta;

    if (result === 1) {
      this.uIn = first;
      this.vIn = second;
    } else {
      this.uIn = second;
      this.vIn = first;
    }
    return result !== 0;
  }

  /** `changeFlow(change)`: augment by delta around the cycle and update arc states. */
  private changeFlow(change: boolean): void {
    const inArc = this.inArc;
    const flow = this.flowArr;
    const parent = this.parent;
    const pred = this.pred;
    const forward = this.forward;
    const join = this.join;
    if (this.delta > 0) {
      const val = this.state[inArc] * this.delta;
      flow[inArc] += val;
      for (let u = this.source[inArc]; u !== join; u = parent[u]) {
        flow[pred[u]] += forward[u] ? -val : val;
      }
      for (let u = this.target[inArc]; u !== join; u = parent[u]) {
        flow[pred[u]] += forward[u] ? val : -val;
      }
    }
    if (change) {
      this.state[inArc] = STATE_TREE;
      this.state[pred[this.uOut]] = flow[pred[this.uOut]] === 0 ? STATE_LOWER : STATE_UPPER;
    } else {
      this.state[inArc] = -this.state[inArc];
    }
  }

  /** `updateTreeStructure()`: re-hang the subtree of u_out under the entering arc. */
  private updateTreeStructure(): void {
    const parent = this.parent;
    const thread = this.thread;
    const revThread = this.revThread;
    const succNum = this.succNum;
    const lastSucc = this.lastSucc;
    const pred = this.pred;
    const forward = this.forward;
    const dirtyRevs = this.dirtyRevs;
    const uIn = this.uIn;
    const vIn = this.vIn;
    const uOut = this.uOut;
    const join = this.join;
    const inArc = this.inArc;

    let u: number;
    let w: number;
    const oldRevThread = revThread[uOut];
    const oldSuccNum = succNum[uOut];
    const oldLastSucc = lastSucc[uOut];
    const vOut = parent[uOut];

    u = lastSucc[uIn]; // the last successor of u_in
    let right = thread[u]; // the node after it

    // Handle the case when old_rev_thread equals to v_in
    // (it also means that join and v_out coincide)
    let last: number;
    if (oldRevThread === vIn) {
      last = thread[lastSucc[uOut]];
    } else {
      last = thread[vIn];
    }

    // Update _thread and _parent along the stem nodes (i.e. the nodes
    // between u_in and u_out, whose parent have to be changed)
    let stem = uIn;
    thread[vIn] = stem;
    let nDirty = 0;
    dirtyRevs[nDirty++] = vIn;
    let parStem = vIn;
    while (stem !== uOut) {
      // Insert the next stem node into the thread list
      const newStem = parent[stem];
      thread[u] = newStem;
      dirtyRevs[nDirty++] = u;

      // Remove the subtree of stem from the thread list
      w = revThread[stem];
      thread[w] = right;
      revThread[right] = w;

      // Change the parent node and shift stem nodes
      parent[stem] = parStem;
      parStem = stem;
      stem = newStem;

      // Update u and right
      u = lastSucc[stem] === lastSucc[parStem] ? revThread[parStem] : lastSucc[stem];
      right = thread[u];
    }
    parent[uOut] = parStem;
    thread[u] = last;
    revThread[last] = u;
    lastSucc[uOut] = u;

    // Remove the subtree of u_out from the thread list except for
    // the case when old_rev_thread equals to v_in
    if (oldRevThread !== vIn) {
      thread[oldRevThread] = right;
      revThread[right] = oldRevThread;
    }

    // Update _rev_thread using the new _thread values
    for (let i = 0; i !== nDirty; ++i) {
      u = dirtyRevs[i];
      revThread[thread[u]] = u;
    }

    // Update _pred, _forward, _last_succ and _succ_num for the
    // stem nodes from u_out to u_in
    let tmpSc = 0;
    const tmpLs = lastSucc[uOut];
    u = uOut;
    while (u !== uIn) {
      w = parent[u];
      pred[u] = pred[w];
      forward[u] = forward[w] ? 0 : 1;
      tmpSc += succNum[u] - succNum[w];
      succNum[u] = tmpSc;
      lastSucc[w] = tmpLs;
      u = w;
    }
    pred[uIn] = inArc;
    forward[uIn] = uIn === this.source[inArc] ? 1 : 0;
    succNum[uIn] = oldSuccNum;

    // Set limits for updating _last_succ form v_in and v_out
    // towards the root
    let upLimitIn = -1;
    let upLimitOut = -1;
    if (lastSucc[join] === vIn) {
      upLimitOut = join;
    } else {
      upLimitIn = join;
    }

    // Update _last_succ from v_in towards the root
    for (u = vIn; u !== upLimitIn && lastSucc[u] === vIn; u = parent[u]) {
      lastSucc[u] = lastSucc[uOut];
    }
    // Update _last_succ from v_out towards the root
    if (join !== oldRevThread && vIn !== oldRevThread) {
      for (u = vOut; u !== upLimitOut && lastSucc[u] === oldLastSucc; u = parent[u]) {
        lastSucc[u] = oldRevThread;
      }
    } else {
      for (u = vOut; u !== upLimitOut && lastSucc[u] === oldLastSucc; u = parent[u]) {
        lastSucc[u] = lastSucc[uOut];
      }
    }

    // Update _succ_num from v_in to join
    for (u = vIn; u !== join; u = parent[u]) {
      succNum[u] += oldSuccNum;
    }
    // Update _succ_num from v_out to join
    for (u = vOut; u !== join; u = parent[u]) {
      succNum[u] -= oldSuccNum;
    }
  }

  /** `updatePotential()`: shift the potentials of the moved subtree by sigma. */
  private updatePotential(): void {
    const pi = this.pi;
    const uIn = this.uIn;
    const c = this.cost[this.pred[uIn]];
    const sigma = this.forward[uIn] ? pi[this.vIn] - pi[uIn] - c : pi[this.vIn] - pi[uIn] + c;
    // Update potentials in the subtree, which has been moved
    const thread = this.thread;
    const end = thread[this.lastSucc[uIn]];
    for (let u = uIn; u !== end; u = thread[u]) {
      pi[u] += sigma;
    }
  }

  /** One pivot on `this.inArc`; false when the cycle is unbounded (`delta >= MAX`). */
  private pivot(): boolean {
    this.findJoinNode();
    const change = this.findLeavingArc();
    if (this.delta >= MAX) return false;
    this.changeFlow(change);
    if (change) {
      this.updateTreeStructure();
      this.updatePotential();
    }
    return true;
  }

  /**
   * `initialPivots()`: heuristic first pivots. With `_sum_supply == 0` (always, see init())
   * the candidate arcs are, for each demand node (graph order nodeNum-1 … 0), its cheapest
   * incoming arc (`firstIn/nextIn` visit sources n1-1 … 0; strict `<` keeps the first seen,
   * i.e. the highest source index on ties). With exactly one supply and one demand node the
   * C++ instead does a reverse DFS from the sink. The `_sum_supply < 0` branch is unreachable.
   */
  private initialPivots(): boolean {
    const n2 = this.n2;
    let total = 0;
    const supplyNodes: number[] = [];
    const demandNodes: number[] = [];
    for (let u = this.nodeNum - 1; u !== -1; --u) {
      const curr = this.supply[this.nodeId(u)];
      if (curr > 0) {
        total += curr;
        supplyNodes.push(u);
      } else if (curr < 0) {
        demandNodes.push(u);
      }
    }
    if (this.sumSupply > 0) total -= this.sumSupply;
    if (total <= 0) return true;

    const arcVector: number[] = [];
    // `_sum_supply >= 0` holds (it is 0).
    if (supplyNodes.length === 1 && demandNodes.length === 1) {
      // Perform a reverse graph search from the sink to the source
      const reached = new Uint8Array(this.nodeNum);
      const s = supplyNodes[0];
      const t = demandNodes[0];
      const stack: number[] = [];
      reached[t] = 1;
      stack.push(t);
      while (stack.length > 0) {
        const v = stack.pop() as number;
        if (v === s) break;
        for (let a = this.firstIn(v); a !== -1; a = this.nextIn(a)) {
          const u = Math.trunc(a / n2); // _graph.source(a)
          if (reached[u]) continue;
          const j = this.getArcID(a);
          // `if (INF >= total)` always holds for double.
          arcVector.push(j);
          reached[u] = 1;
          stack.push(u);
        }
      }
    } else {
      // Find the min. cost incomming arc for each demand node
      for (let i = 0; i !== demandNodes.length; ++i) {
        const v = demandNodes[i];
        let minCost = MAX;
        let minArc = -1;
        for (let a = this.firstIn(v); a !== -1; a = this.nextIn(a)) {
          const c = this.cost[this.getArcID(a)];
          if (c < minCost) {
            minCost = c;
            minArc = a;
          }
        }
        if (minArc !== -1) arcVector.push(this.getArcID(minArc));
      }
    }

    // Perform heuristic initial pivots
    for (let i = 0; i !== arcVector.length; ++i) {
      const inArc = arcVector[i];
      this.inArc = inArc;
      if (
        this.state[inArc] * (this.cost[inArc] + this.pi[this.source[inArc]] - this.pi[this.target[inArc]]) >=
        0
      ) {
        continue;
      }
      if (!this.pivot()) return false;
    }
    return true;
  }

  /** FullBipartiteDigraphBase::firstIn: the arc from source n1-1 into target `node`. */
  private firstIn(node: number): number {
    if (node < this.n1) return -1;
    return this.arcNum + node - this.nodeNum;
  }

  /** FullBipartiteDigraphBase::nextIn: the arc from the previous source. */
  private nextIn(arc: number): number {
    arc -= this.n2;
    return arc < 0 ? -1 : arc;
  }

  /** `start<BlockSearchPivotRule>()`. */
  private start(): ProblemTypeCode {
    this.initPivotRule();
    let retVal: ProblemTypeCode = ProblemType.OPTIMAL;

    // Perform heuristic initial pivots
    if (!this.initialPivots()) return ProblemType.UNBOUNDED;

    let iterNumber = 0;
    const maxIter = this.maxIter;
    // Execute the Network Simplex algorithm
    while (this.findEnteringArc()) {
      // `if (max_iter > 0 && ++iter_number >= max_iter && max_iter > 0)`: POT prints
      // "RESULT MIGHT BE INACURATE" and returns MAX_ITER_REACHED with the current flow.
      if (maxIter > 0 && ++iterNumber >= maxIter) {
        retVal = ProblemType.MAX_ITER_REACHED;
        break;
      }
      if (!this.pivot()) {
        this.iterations = iterNumber;
        return ProblemType.UNBOUNDED;
      }
    }
    this.iterations = iterNumber;

    // Check feasibility: artificial arcs must carry no flow (|flow| <= EPSILON is zeroed).
    if (retVal === ProblemType.OPTIMAL) {
      for (let e = this.searchArcNum; e !== this.allArcNum; ++e) {
        if (this.flowArr[e] !== 0) {
          if (Math.abs(this.flowArr[e]) > EPSILON) return ProblemType.INFEASIBLE;
          this.flowArr[e] = 0;
        }
      }
    }

    // Shift potentials to meet the requirements of the GEQ type optimality conditions
    // (`_sum_supply == 0`, `_stype == GEQ` as set by resetParams()).
    let maxPot = -MAX;
    for (let i = 0; i !== this.nodeNum; ++i) {
      if (this.pi[i] > maxPot) maxPot = this.pi[i];
    }
    if (maxPot > 0) {
      for (let i = 0; i !== this.nodeNum; ++i) this.pi[i] -= maxPot;
    }
    return retVal;
  }
}
