// Package em estimates the mixture weights of a finite mixture whose component
// distributions are known, by Expectation-Maximization.
//
// It is pure numerics: plain slices in, results out. It knows nothing of files,
// Arrow or bags; the pipeline hands it one bag at a time.
//
// # The model
//
// Observations x_1..x_n (each with a count c_i >= 0) come from a mixture of K
// known densities f_1..f_K with unknown weights w (w_k >= 0, sum w_k = 1):
//
//	p(x) = sum_k w_k f_k(x)
//	l(w) = sum_i c_i log p(x_i)
//
// l is concave in w, so every local maximum is global. EM's update is
// w_k <- w_k g_k / N, where N = sum_i c_i and
//
//	g_k = dl/dw_k = sum_i c_i f_k(x_i) / p(x_i)
//
// is the gradient. Since sum_k w_k g_k = N, the weights stay on the simplex.
//
// # Stopping rule
//
// Write e_k = g_k/N - 1 for the relative gradient. At the maximum (the KKT
// conditions) e_k = 0 for every component with positive weight and e_k <= 0
// for every component with zero weight. The gradient rule holds when
//
//	e_k <= tol for every k, and
//	e_k >= -tol for every k whose weight exceeds tol.
//
// The first condition certifies the log-likelihood: by Jensen's inequality,
// l(w*) - l(w) <= N log(max_k g_k / N) <= N*tol for the maximiser w*. The
// second balances the gradient over the support. A small gradient bounds
// the distance to w* only through the curvature, which is small when
// components are nearly alike (Bernoullis with p 0.5 and 0.501, say), so
// with the default acceleration Fit also requires that Newton's step to
// the maximum of the local quadratic model (Hessian included) moves no
// weight by more than 10*tol, or that those steps have stopped shrinking
// (floating point's floor). Converged reports that both hold; with
// Acceleration None it reports the gradient rule alone. Result.Gap reports
// max_k e_k at the returned weights. With the default tol of 1e-10 the
// weights are within 1e-8 of w*, including maxima on the boundary of the
// simplex (a weight of exactly 0).
//
// # Acceleration
//
// Plain EM converges linearly, and sublinearly towards maxima on the boundary
// of the simplex. Fit therefore uses SQUAREM (Varadhan and Roland, 2008,
// scheme S3, with the step-length control of R's SQUAREM package) with
// safeguards: an extrapolated point is shrunk towards the plain two-step EM
// point until every weight stays positive (and no weight shrinks by more
// than a factor of 1000 in one step, so a component can never be
// extrapolated out of the model), and it is accepted only if its
// log-likelihood is at least that of the first EM step; otherwise the plain
// EM point is taken.
//
// Every bag is then finished and certified by Newton's method on the
// active set (see Fitter.newton), which takes over from SQUAREM after at
// most 30 E-steps: components that the gradient pushes to zero are fixed at
// exactly zero, the others take Newton steps in tangent coordinates of the
// simplex with a backtracking line search. This converges quadratically,
// also in the hard case of a maximum on the boundary where the gradient
// vanishes too (a bag whose red share is exactly one factory's p), where EM
// needs on the order of 1/tol iterations. Its gradient and Hessian are
// built from differences of densities formed from their logarithms, so
// they stay accurate for nearly alike components, down to the limit set by
// the input itself: float64 log-densities determine the maximum only to
// about 1e-16 divided by the curvature per observation.
//
// The log-likelihood never decreases by more than rounding. Setting
// Settings.Accelerate to None gives the textbook EM loop, and nothing else.
package em
