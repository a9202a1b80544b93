Attribute VB_Name = "XLSegmentsRibbon"
' Ribbon callbacks of the xl-segments tab (a fabricated test fixture).
' Code page 1252 text must survive: café, crème, 5 €.
Option Explicit

Public Sub OnAction(control As IRibbonControl)
    Select Case control.Id
        Case "RefreshAll": RunPython "import xl_segments.excel; xl_segments.excel.refresh_all()"
        Case "TopSpenders": RunPython "import xl_segments.excel; xl_segments.excel.top_spenders()"
        Case Else: MsgBox "Unknown button: " & control.Id, vbExclamation, "xl-segments"
    End Select
End Sub
