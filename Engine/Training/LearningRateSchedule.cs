namespace GbaEngine.Training;

/// <summary>How the learning rate falls after the warm-up.</summary>
public enum LearningRateDecay
{
    /// <summary>The full rate to the end (SAELens' default).</summary>
    Constant,
    /// <summary>Half a cosine from the full rate towards 0 over the decay window (SAELens' cosine annealing with lr_end = 0).</summary>
    Cosine,
    /// <summary>A straight line from the full rate towards 0 over the decay window (dictionary_learning's decay_start).</summary>
    Linear,
}

/// <summary>
/// The learning-rate multiplier of a run as a pure function of the 1-based step t of T, so a resumed
/// run needs no schedule state (the position is the step). Every method uses it; the GBA bias rule
/// does not (its step sizes γ± are not learning rates). With W = warm-up·T and D = decay-start·T:
///   warm-up   w(t) = min(1, t / W)                     (W = 0: 1; the first step already moves, as in SAELens)
///   decay     u(t) = clamp((t − 1 − D) / (T − D), 0, 1), the fraction of the window passed when step t starts
///             linear 1 − u, cosine ½(1 + cos πu)       (the last step keeps 1/(T − D) of the rate, as dictionary_learning's)
///   factor    w(t)·decay(t)
/// L1's λ warm-up is the same ramp (<see cref="Ramp"/>), so "warm-up" means one thing for every setting.
/// </summary>
public readonly record struct LearningRateSchedule(double Warmup, LearningRateDecay Decay, double DecayStart)
{
    /// <summary>The schedule of <paramref name="o"/>.</summary>
    public static LearningRateSchedule Of(TrainerOptions o) => new(o.LrWarmup, o.LrSchedule, o.LrDecayStart);

    /// <summary>The multiplier of the base rate at 1-based <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    public double Factor(long step, long totalSteps)
    {
        double f = Ramp(step, totalSteps, Warmup);
        if (Decay == LearningRateDecay.Constant) return f;
        double start = DecayStart * totalSteps, window = totalSteps - start;
        if (!(window > 0)) return f;
        double u = Math.Clamp((step - 1 - start) / window, 0, 1);
        return f * (Decay == LearningRateDecay.Linear ? 1 - u : 0.5 * (1 + Math.Cos(Math.PI * u)));
    }

    /// <summary>A linear warm-up from 0 over the first <paramref name="fraction"/> of the steps: min(1, t / (fraction·T)).</summary>
    public static double Ramp(long step, long totalSteps, double fraction)
    {
        double rampSteps = fraction * totalSteps;
        return rampSteps <= 0 || step >= rampSteps ? 1 : step / rampSteps;
    }

    /// <summary>Throws for settings outside their ranges, naming the flag.</summary>
    public void Validate()
    {
        if (!(Warmup >= 0 && Warmup <= 1)) throw new ArgumentException($"--lr-warmup must lie in [0, 1] (got {Warmup}).");
        if (!(DecayStart >= 0 && DecayStart < 1)) throw new ArgumentException($"--lr-decay-start must lie in [0, 1) (got {DecayStart}).");
        if (!Enum.IsDefined(Decay)) throw new ArgumentException($"--lr-schedule {Decay} is not a schedule.");
        if (Decay != LearningRateDecay.Constant && Warmup > DecayStart)
            throw new ArgumentException($"--lr-warmup ({Warmup}) must end before --lr-decay-start ({DecayStart}).");
    }
}
