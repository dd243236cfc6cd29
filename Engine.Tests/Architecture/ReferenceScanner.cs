using System.Reflection;
using System.Reflection.Emit;

namespace GbaEngine.Tests.Architecture;

/// <summary>
/// Reads every type an assembly's types use (signatures, fields, base types, attributes, locals and
/// every type, method and field token in the IL, closures and iterators included) and checks that
/// namespaces only use their own layer and those below it. Shared by the engine's and the CLI's tests.
/// </summary>
internal static class ReferenceScanner
{
    public static void AssertLayered(Assembly assembly, string root, string[] layers)
    {
        var violations = new SortedSet<string>();
        foreach (var type in assembly.GetTypes())
        {
            var from = Layer(type, root);
            if (from is null) continue;
            int rank = Array.IndexOf(layers, from);
            foreach (var used in References(type))
            {
                if (used.Assembly != assembly) continue;
                var to = Layer(used, root);
                if (to is null || to == from) continue;
                int target = Array.IndexOf(layers, to);
                if (rank < 0 || target < 0 || target > rank)
                    violations.Add($"{from} -> {to}: {Name(type)} uses {Name(used)}");
            }
        }
        Assert.True(violations.Count == 0, "upward references:\n" + string.Join("\n", violations));
    }

    /// <summary>The namespace segment after <paramref name="root"/> ("Training" for GbaEngine.Training.Baselines), or null outside it.</summary>
    public static string? Layer(Type t, string root)
    {
        var ns = t.Namespace;
        if (ns is null || !ns.StartsWith(root + ".", StringComparison.Ordinal)) return null;
        var rest = ns[(root.Length + 1)..];
        int dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    static string Name(Type t) => t.DeclaringType is { } outer ? $"{Name(outer)}.{t.Name}" : $"{t.Namespace}.{t.Name}";

    const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    static IEnumerable<Type> References(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (t.IsGenericParameter) return;
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var a in t.GetGenericArguments()) Add(a);
                t = t.GetGenericTypeDefinition();
            }
            if (found.Add(t)) Add(t.DeclaringType);
        }
        void Attributes(IEnumerable<CustomAttributeData> attrs)
        {
            foreach (var a in attrs)
            {
                Add(a.AttributeType);
                foreach (var arg in a.ConstructorArguments.Concat(a.NamedArguments.Select(n => n.TypedValue)))
                    if (arg.Value is Type tv) Add(tv);
            }
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        Attributes(type.CustomAttributes);
        foreach (var f in type.GetFields(All)) { Add(f.FieldType); Attributes(f.CustomAttributes); }
        foreach (var p in type.GetProperties(All)) { Add(p.PropertyType); Attributes(p.CustomAttributes); }
        foreach (var e in type.GetEvents(All)) Add(e.EventHandlerType);
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            Attributes(m.CustomAttributes);
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            foreach (var g in m.IsGenericMethodDefinition ? m.GetGenericArguments() : [])
                foreach (var c in g.GetGenericParameterConstraints()) Add(c);
            MethodBody? body;
            try { body = m.GetMethodBody(); } catch (Exception) { body = null; }
            if (body is null) continue;
            foreach (var l in body.LocalVariables) Add(l.LocalType);
            foreach (var t in IlTokens(m, body.GetILAsByteArray() ?? [])) Add(t);
        }
        return found;
    }

    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>Every type the IL of <paramref name="method"/> names through a metadata token.</summary>
    static IEnumerable<Type> IlTokens(MethodBase method, byte[] il)
    {
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, i);
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); } catch (ArgumentException) { }
                    switch (member)
                    {
                        case Type t: yield return t; break;
                        case FieldInfo f: yield return f.DeclaringType!; yield return f.FieldType; break;
                        case MethodBase mb:
                            yield return mb.DeclaringType!;
                            if (mb.IsGenericMethod) foreach (var a in mb.GetGenericArguments()) yield return a;
                            if (mb is MethodInfo rm) yield return rm.ReturnType;
                            foreach (var p in mb.GetParameters()) yield return p.ParameterType;
                            break;
                    }
                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: i += 1; break;
                case OperandType.InlineVar: i += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: i += 8; break;
                default: i += 4; break;
            }
        }
    }
}
