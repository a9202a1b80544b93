Attribute VB_Name = "XLSegmentsRibbon"
' Ribbon callbacks of the xl-segments add-in.
'
' Every button of the xl-segments tab (customUI.xml) calls XLSegmentsAction; the button id
' picks the macro of xl_segments.macros that RunPython runs. RunPython is the add-in's own
' (the xlwings module inside this add-in), which reads its settings from the add-in's
' xlwings.conf sheet and hands Python the active workbook as the calling book: each macro
' works on the workbook the user is looking at, never on the add-in.
'
' control is declared As Object, not As IRibbonControl: Excel passes the same object either
' way, and the add-in then needs no reference to the Office object library.
Option Explicit

Public Sub XLSegmentsAction(control As Object)
    If ActiveWorkbook Is Nothing Then
        ' RunPython reads the active workbook's name, path and settings; without one it
        ' would stop with a VBA error instead of a message.
        MsgBox "Open a workbook first (or create one with Ctrl+N), then click the button again.", _
            vbInformation, "xl-segments"
        Exit Sub
    End If
    Select Case control.Id
        Case "xlsRefreshAll"
            RunPython "import xl_segments.macros as m; m.refresh_all()"
        Case "xlsTopSpenders"
            RunPython "import xl_segments.macros as m; m.build_top_spenders()"
        Case "xlsChannelLists"
            RunPython "import xl_segments.macros as m; m.build_channel_lists()"
        Case "xlsChurnRisk"
            RunPython "import xl_segments.macros as m; m.build_churn_risk()"
        Case "xlsExportContacts"
            RunPython "import xl_segments.macros as m; m.export_contact_lists()"
        Case "xlsOpenSettings"
            RunPython "import xl_segments.macros as m; m.open_settings()"
        Case "xlsNewWorkbook"
            RunPython "import xl_segments.macros as m; m.new_workbook_from_template()"
        Case Else
            MsgBox "This build of the add-in has no action for the button """ & control.Id & """.", _
                vbExclamation, "xl-segments"
    End Select
End Sub
