#!/usr/bin/env python3
"""Derives the constants of Sources/MuNetRuntime/Math/*.swift (see spec/math.md).

Each polynomial is the interpolant of its target function at the Chebyshev nodes of its
interval (a near-minimax polynomial), computed in 512-bit arithmetic, converted to monomial
coefficients and rounded to Double. The printed "max weighted error" is measured on a dense
grid with the Double-rounded coefficients, in the same units as the comments in the Swift
sources. Needs mpmath (pip install mpmath); run: python3 Scripts/math_coefficients.py
"""
import mpmath as mp

mp.mp.prec = 512
TINY = mp.mpf(2) ** -60


def chebyshev_monomial(f, a, b, degree, centre=0):
    """Coefficients in powers of (x - centre) of the interpolant of f at Chebyshev nodes."""
    n = degree + 1
    nodes = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (2 * k + 1) / (2 * n)) for k in range(n)]
    matrix = mp.matrix(n, n)
    values = mp.matrix(n, 1)
    for i, x in enumerate(nodes):
        for j in range(n):
            matrix[i, j] = (x - centre) ** j
        values[i] = f(x)
    solution = mp.lu_solve(matrix, values)
    return [solution[j] for j in range(n)]


def max_error(f, coefficients, a, b, centre=0, weight=lambda x: 1, samples=1500):
    rounded = [mp.mpf(float(c)) for c in coefficients]
    worst = 0
    for i in range(samples + 1):
        x = a + (b - a) * mp.mpf(i) / samples
        worst = max(worst, abs(mp.polyval(rounded[::-1], x - centre) - f(x)) * weight(x))
    return worst


def guarded(function, series):
    """function, but its series near 0 where the closed form cancels."""
    return lambda x: series(x) if abs(x) < TINY else function(x)


def show(name, coefficients, error):
    print(f"// {name}: max weighted error 2^{float(mp.log(error, 2)):.1f}")
    for c in coefficients:
        print(f"  {float(c).hex()},")


# exp, tanh: e^r - 1 = r + r^2 g(r) on |r| <= ln2/2 (+ margin); weight |r| = error relative to e^r - 1.
g = guarded(lambda r: (mp.expm1(r) - r) / r**2, lambda r: mp.mpf(1) / 2 + r / 6 + r * r / 24)
R = mp.log(2) / 2 + mp.mpf(2) ** -30
c = chebyshev_monomial(g, -R, R, 10)
show("expm1: g, degree 10", c, max_error(g, c, -R, R, weight=lambda r: abs(r)))

# log: log m = 2s + s^3 h(s^2), s <= (sqrt2 - 1)/(sqrt2 + 1); weight z/2 = error relative to log m.
s_max = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
h = guarded(lambda z: (2 * mp.atanh(mp.sqrt(z)) - 2 * mp.sqrt(z)) / (z * mp.sqrt(z)),
            lambda z: mp.mpf(2) / 3 + 2 * z / 5)
c = chebyshev_monomial(h, 0, s_max**2, 6)
show("log: h, degree 6", c, max_error(h, c, 0, s_max**2, weight=lambda z: z / 2))

# cos: cos r = 1 - z/2 + z^2 C(z), sin r = r + r^3 S(z), z = r^2 <= (pi/4)^2 (+ margin).
Z = (mp.pi / 4) ** 2 * (1 + mp.mpf(2) ** -20)
C = guarded(lambda z: (mp.cos(mp.sqrt(z)) - 1 + z / 2) / z**2, lambda z: mp.mpf(1) / 24 - z / 720)
c = chebyshev_monomial(C, 0, Z, 5)
show("cos: C, degree 5 (error relative to cos r >= 0.7)", c,
     max_error(C, c, 0, Z, weight=lambda z: z * z / mp.mpf(0.7)))
S = guarded(lambda z: (mp.sin(mp.sqrt(z)) - mp.sqrt(z)) / (z * mp.sqrt(z)),
            lambda z: -mp.mpf(1) / 6 + z / 120)
c = chebyshev_monomial(S, 0, Z, 6)
show("sin: S, degree 6 (error relative to sin r)", c, max_error(S, c, 0, Z, weight=lambda z: z))

# erf, |x| < 1/2: erf x = x E(x^2), relative error.
E = guarded(lambda z: mp.erf(mp.sqrt(z)) / mp.sqrt(z), lambda z: 2 / mp.sqrt(mp.pi) * (1 - z / 3))
c = chebyshev_monomial(E, 0, mp.mpf(1) / 4, 8)
show("erf small: E, degree 8 (relative)", c, max_error(E, c, 0, mp.mpf(1) / 4, weight=lambda z: 1 / E(z)))

# erf, 1/2 <= |x| < 4: 14 intervals of width 1/4, degree 11 in t = x - centre, absolute error.
for i in range(14):
    a = mp.mpf(1) / 2 + mp.mpf(i) / 4
    b = a + mp.mpf(1) / 4
    centre = a + mp.mpf(1) / 8
    c = chebyshev_monomial(mp.erf, a, b, 11, centre=centre)
    show(f"erf [{float(a)}, {float(b)}), degree 11, centre {float(centre)}", c,
         max_error(mp.erf, c, a, b, centre=centre, samples=400))

ln2 = mp.log(2)
print("ln2High", float(ln2).hex(), "ln2Low", float(ln2 - mp.mpf(float(ln2))).hex())
print("inverseLn2", float(1 / ln2).hex())
print("halfPiTimesTwoToMinus128", float(mp.pi / 2 * mp.mpf(2) ** -128).hex())
bits = int(mp.floor(2 / mp.pi * mp.mpf(2) ** 256))
print("twoOverPiWords", ", ".join(f"0x{(bits >> (64 * (3 - i))) & (2**64 - 1):016X}" for i in range(4)))
