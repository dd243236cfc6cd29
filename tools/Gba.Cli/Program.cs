return GbaEngine.Cli.CliApp.Run(args, Console.Out, Console.Error);
