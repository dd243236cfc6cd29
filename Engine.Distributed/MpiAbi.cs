// The handle values of the two MPI ABIs in use. Open MPI's handles are pointers to exported globals
// (MPI_COMM_WORLD is &ompi_mpi_comm_world), MPICH's are 32-bit integer constants (mpi.h of MPICH
// 4.0, the values fixed by the MPICH ABI initiative shared by Intel MPI, MVAPICH and Cray MPICH).
// Every handle is carried as a nint: an MPICH int handle goes as its sign-extended value, which is
// what a C caller passes for an int argument on the 64-bit Linux ABIs (x86-64 and AArch64 read the
// low 32 bits, RISC-V LP64 expects them sign-extended), so one set of function pointer types
// serves both families.
using System.Runtime.InteropServices;

namespace GbaEngine.Distributed;

/// <summary>The predefined MPI handles of one library (communicator, datatypes, ops, error handler, MPI_IN_PLACE).</summary>
internal sealed record MpiAbi(MpiFamily Family, nint CommWorld, nint Byte, nint Float, nint Double, nint Int64, nint FloatInt,
    nint Sum, nint Max, nint MaxLoc, nint ErrorsReturn, nint InPlace)
{
    /// <summary>Open MPI: the addresses of its predefined objects; MPI_IN_PLACE is (void*)1.</summary>
    public static MpiAbi OpenMpi(nint library)
    {
        nint Global(string name) => NativeLibrary.TryGetExport(library, name, out nint address)
            ? address
            : throw new MpiException($"The Open MPI library exports no {name}: an Open MPI this binding does not know.");
        return new MpiAbi(MpiFamily.OpenMpi, Global("ompi_mpi_comm_world"), Global("ompi_mpi_byte"), Global("ompi_mpi_float"),
            Global("ompi_mpi_double"), Global("ompi_mpi_int64_t"), Global("ompi_mpi_float_int"), Global("ompi_mpi_op_sum"),
            Global("ompi_mpi_op_max"), Global("ompi_mpi_op_maxloc"), Global("ompi_mpi_errors_return"), 1);
    }

    /// <summary>MPICH ABI: integer constants; MPI_IN_PLACE is (void*)-1.</summary>
    public static MpiAbi Mpich { get; } = new(MpiFamily.Mpich,
        CommWorld: Handle(0x44000000), Byte: Handle(0x4c00010d), Float: Handle(0x4c00040a), Double: Handle(0x4c00080b),
        Int64: Handle(0x4c00083a), FloatInt: Handle(0x8c000000), Sum: Handle(0x58000003), Max: Handle(0x58000001),
        MaxLoc: Handle(0x5800000c), ErrorsReturn: Handle(0x54000001), InPlace: -1);

    static nint Handle(uint value) => unchecked((int)value);
}
