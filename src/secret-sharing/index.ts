/**
 * Public API of the secret-sharing core (pure: typed arrays in, typed arrays out,
 * randomness injected). See docs/architecture/secret-sharing.md.
 */
export { P, HALF, reduce, add, sub, neg, mul, inv, pow, isFieldElement, assertFieldVector, randomFieldElements, randomFieldElement, addInto, subInto, sumVectors, fromSigned, toSigned } from './field.ts'
export { type Rounding, type ScaleRequest, type EncodeOptions, type FixedPoint, type FixedPointSpec, DEFAULT_HEADROOM, maxSafeScale, encodedBounds, encodeFixedPoint, decodeFixedPoint, encodedSquaredNorm, fixedPoint } from './fixed-point.ts'
export { type Share, MAX_HOLDERS, holderX, share, reconstruct, linearCombination, assertShares, assertShareParameters } from './shamir.ts'
export { lagrangeWeightsAtZero, lagrangeWeightsAt, interpolate, evalPoly, onPolynomial, berlekampWelch, type DecodeResult } from './polynomial.ts'
export { type RobustResult, randomProjection, project, checkConsistency, robustReconstruct } from './consistency.ts'
export { type PointShare, normSquarePoint, normSquarePoints, dealZeroShares, maskNormPoints, reconstructNormSquared, robustReconstructNormSquared } from './norm-check.ts'
export { FieldElementError, FieldOverflowError, FixedPointParametersError, ShareParametersError, ShareFormatError, InconsistentSharesError, TooManyFaultsError } from './errors.ts'
