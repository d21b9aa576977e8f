/**
 * Optimal transport for the fusion engine: POT-exact EMD (network simplex port), entropic
 * Sinkhorn, and an independent assignment solver used for cross-checks.
 */
export { emd, emd2, emdWrap, EMD_DEFAULT_MAX_ITER, EMD_MASS_TOLERANCE } from './emd.ts';
export type { EmdOptions, EmdResult, EmdWrapResult } from './emd.ts';
export { NetworkSimplexSimple, ProblemType } from './network-simplex.ts';
export type { ProblemTypeCode } from './network-simplex.ts';
export { sinkhorn } from './sinkhorn.ts';
export type { SinkhornMethod, SinkhornOptions, SinkhornResult } from './sinkhorn.ts';
export { solveAssignment, uniformPlanViaAssignment } from './assignment.ts';
export type { AssignmentResult } from './assignment.ts';
export { numpySum } from './numpy-sum.ts';
