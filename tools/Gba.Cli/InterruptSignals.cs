using System.Runtime.InteropServices;

namespace GbaEngine.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM during a long command: the first one cancels <see cref="Token"/> so
/// the trainer finishes its step and checkpoints; a second one is left to the default action, which
/// ends the process at once (exit 130 for SIGINT) without waiting for the checkpoint.
/// </summary>
public sealed class InterruptSignals : IDisposable
{
    readonly CancellationTokenSource _cts = new();
    readonly PosixSignalRegistration[] _registrations;
    readonly TextWriter _stderr;
    readonly string _command, _action;
    int _count;

    /// <param name="action">What the command does on the first signal, as told to the user.</param>
    public InterruptSignals(string command, TextWriter stderr, string action = "finishing the current step, then writing a checkpoint")
    {
        _command = command;
        _action = action;
        _stderr = stderr;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>Whether a signal asked the command to stop.</summary>
    public bool Requested => _cts.IsCancellationRequested;

    void Handle(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _count) > 1)
        {
            _stderr.WriteLine($"\ngba {_command}: {context.Signal} again: stopping now, without a checkpoint");
            _stderr.Flush();
            context.Cancel = false;
            return;
        }
        context.Cancel = true;
        _stderr.WriteLine($"\ngba {_command}: {context.Signal}: {_action} (again to stop at once)");
        _stderr.Flush();
        _cts.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
