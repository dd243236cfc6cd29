using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;

namespace GbaEngine.Tests.Kernels;

/// <summary>One SGEMM test case: shapes, transposes, scalars, padding and misalignment.</summary>
public sealed record GemmCase(int M, int N, int K, bool TransA, bool TransB, float Alpha, float Beta,
    int PadA, int PadB, int PadC, int Offset, ulong Seed)
{
    public int RowsA => TransA ? K : M;
    public int ColsA => TransA ? M : K;
    public int RowsB => TransB ? N : K;
    public int ColsB => TransB ? K : N;
    public int Lda => Math.Max(1, ColsA + PadA);
    public int Ldb => Math.Max(1, ColsB + PadB);
    public int Ldc => N + PadC;
    internal GemmTranspose OpA => TransA ? GemmTranspose.Transpose : GemmTranspose.NoTranspose;
    internal GemmTranspose OpB => TransB ? GemmTranspose.Transpose : GemmTranspose.NoTranspose;
    public double Flops => 2.0 * M * N * K;
}

/// <summary>Operands for a case, stored at a misaligned offset with padded leading dimensions.</summary>
public sealed class GemmOperands
{
    public readonly float[] A, B, C0;
    public readonly GemmCase Case;

    public GemmOperands(GemmCase c)
    {
        Case = c;
        var rng = new Random((int)(c.Seed % int.MaxValue));
        A = Fill(rng, c.Offset + c.RowsA * c.Lda);
        B = Fill(rng, c.Offset + c.RowsB * c.Ldb);
        C0 = Fill(rng, c.Offset + c.M * c.Ldc);
        if (c.Beta == 0) Array.Fill(C0, float.NaN, c.Offset, C0.Length - c.Offset);
        // Padding columns of C carry a sentinel that must survive.
        for (int i = 0; i < c.M; i++)
            for (int j = c.N; j < c.Ldc; j++)
                C0[c.Offset + i * c.Ldc + j] = Sentinel;
    }

    public const float Sentinel = -12345.5f;

    static float[] Fill(Random rng, int length)
    {
        var x = new float[Math.Max(length, 1)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    public float GetA(int i, int p) => Case.TransA ? A[Case.Offset + p * Case.Lda + i] : A[Case.Offset + i * Case.Lda + p];
    public float GetB(int p, int j) => Case.TransB ? B[Case.Offset + j * Case.Ldb + p] : B[Case.Offset + p * Case.Ldb + j];

    /// <summary>Runs the case on a context; returns C (with offset and padding).</summary>
    internal float[] Run(SgemmContext ctx)
    {
        var c = (float[])C0.Clone();
        var o = Case.Offset;
        ctx.Multiply(Case.OpA, Case.OpB, Case.M, Case.N, Case.K, Case.Alpha,
            A.AsSpan(o), Case.Lda, B.AsSpan(o), Case.Ldb, Case.Beta, c.AsSpan(o), Case.Ldc);
        return c;
    }

    /// <summary>Double-precision oracle and the forward error bound per element:
    /// |fl(C) - C| &lt;= (k + 2) u (|alpha| sum_p |a_ip b_pj| + |beta c_ij|) with u = 2^-24, doubled for slack.</summary>
    public void Check(float[] actual, string label)
    {
        var c = Case;
        const double u = 1.0 / (1 << 24);
        for (int i = 0; i < c.M; i++)
        {
            for (int j = 0; j < c.N; j++)
            {
                double s = 0, sa = 0;
                for (int p = 0; p < c.K; p++)
                {
                    double t = (double)GetA(i, p) * GetB(p, j);
                    s += t;
                    sa += Math.Abs(t);
                }
                double c0 = c.Beta == 0 ? 0 : C0[c.Offset + i * c.Ldc + j];
                double expected = c.Alpha * s + c.Beta * c0;
                double bound = 2 * (c.K + 2) * u * (Math.Abs(c.Alpha) * sa + Math.Abs(c.Beta * c0)) + 1e-30;
                double got = actual[c.Offset + i * c.Ldc + j];
                if (!(Math.Abs(got - expected) <= bound))
                    throw new Xunit.Sdk.XunitException($"{label} {c}: C[{i},{j}] = {got}, expected {expected} +- {bound}");
            }
            for (int j = c.N; j < c.Ldc; j++)
                if (actual[c.Offset + i * c.Ldc + j] != Sentinel)
                    throw new Xunit.Sdk.XunitException($"{label} {c}: padding C[{i},{j}] was overwritten");
        }
        for (int x = 0; x < c.Offset; x++)
            if (!actual[x].Equals(C0[x]))
                throw new Xunit.Sdk.XunitException($"{label} {c}: element before the start was overwritten");
    }
}

public static class GemmKernelSets
{
    /// <summary>Every kernel set this CPU runs (scalar first), as xunit theory data.</summary>
    public static TheoryData<KernelSet> All
    {
        get
        {
            var data = new TheoryData<KernelSet>();
            foreach (var s in KernelSelector.Supported) data.Add(s);
            return data;
        }
    }
}
